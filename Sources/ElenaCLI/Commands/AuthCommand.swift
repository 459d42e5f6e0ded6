internal import ArgumentParser
import ElenaCore
import ElenaFanvue
import Foundation

/// `elena-run auth login|status|logout`: the Fanvue login (OAuth 2 with PKCE, tokens in a 0600 file).
struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Log in to Fanvue, see the login, or forget it.",
        discussion: """
            Settings come from the environment, or the same names in $ELENA_CONFIG_DIR/config.yaml (default \
            ~/.config/elena-run). FANVUE_CLIENT_ID and FANVUE_CLIENT_SECRET are your Fanvue app's \
            (https://fanvue.com/developers/apps). FANVUE_REDIRECT_URI defaults to \
            http://127.0.0.1:8723/callback: register it in the app, as login listens there. FANVUE_API_URL and \
            FANVUE_AUTH_URL default to https://api.fanvue.com and https://auth.fanvue.com. The tokens are kept in \
            <config>/fanvue-token.json with mode 0600 and are never printed.

            Examples:
              elena-run auth login
              elena-run auth status
              elena-run auth logout
            """,
        subcommands: [Login.self, Status.self, Logout.self])

    static func fanvueSettings() throws -> FanvueConfiguration {
        guard let configuration = try Wiring.fanvueConfiguration() else {
            throw CLIError.usage(
                "FANVUE_CLIENT_ID is not set (environment or \(Wiring.configFolder)/config.yaml); see `elena-run auth --help`")
        }
        return configuration
    }

    struct Login: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Log in: opens the browser on Fanvue's consent page and waits for the redirect.",
            discussion: """
                With --no-browser the URL to open is printed alone on one line, and the command waits.

                Examples:
                  elena-run auth login
                  elena-run auth login --no-browser
                """)

        @Flag(name: .long, help: "Print the authorize URL instead of opening a browser.")
        var noBrowser = false

        @Option(name: .long, help: ArgumentHelp("Seconds to wait for the redirect.", valueName: "seconds"))
        var timeout: Double = 300

        func run() async throws {
            let configuration = try AuthCommand.fanvueSettings()
            let oauth = OAuthClient(configuration: configuration)
            let pkce = PKCE()
            let state = PKCE.randomString(32)
            let url = oauth.authorizeURL(state: state, pkce: pkce)
            let listener = LoopbackListener(redirectURI: configuration.redirectURI, state: state)
            let noBrowser = noBrowser
            let code: String
            do {
                code = try await listener.waitForCode(timeout: timeout) {
                    if noBrowser {
                        FileHandle.standardOutput.write(Data((url + "\n").utf8))
                    } else {
                        FileHandle.standardError.write(Data("Opening the browser on Fanvue's consent page; waiting for the redirect…\n".utf8))
                        ReviewCommand.open(url)
                        FileHandle.standardError.write(Data("If no browser opened, open this URL:\n\(url)\n".utf8))
                    }
                }
            } catch {
                throw CLIError.failure("login failed: \(error)")
            }
            let tokens: TokenSet
            do {
                tokens = try await oauth.exchange(code: code, pkce: pkce)
                try TokenStore(configFolder: Wiring.configFolder).save(tokens)
            } catch let error as FanvueError where error.kind == .authentication {
                // Not "run auth login": that is what is running. The exchange itself was refused.
                throw CLIError.failure(
                    "login failed: Fanvue refused the authorization code (\(error.message)); check FANVUE_CLIENT_SECRET "
                        + "and FANVUE_REDIRECT_URI against your app, then try again")
            } catch let error as FanvueError {
                throw CLIError.failure("login failed: \(error)")
            } catch {
                let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
                let reason = underlying.map { String(cString: strerror(Int32($0.code))) } ?? "the system refused"
                throw CLIError.failure(
                    "login failed: the login worked but cannot be saved in \(Wiring.configFolder) (\(reason)); "
                        + "make that folder writable, or set ELENA_CONFIG_DIR to one that is")
            }
            let path = TokenStore(configFolder: Wiring.configFolder).path
            FileHandle.standardError.write(Data("Logged in to Fanvue. Token saved to \(path) (mode 600); \(tokens.summary).\n".utf8))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the saved login (never the tokens) and check it.",
            discussion: """
                Example:
                  elena-run auth status
                """)

        @Flag(name: .long, help: "Do not call Fanvue.")
        var offline = false

        func run() async throws {
            let configuration = try AuthCommand.fanvueSettings()
            let store = TokenStore(configFolder: Wiring.configFolder)
            print("app: \(configuration.clientID) at \(configuration.apiURL) (auth \(configuration.authURL))")
            let tokens: TokenSet?
            do {
                tokens = try store.load()
            } catch {
                throw CLIError.failure("\(error)")
            }
            guard let tokens else {
                print("not logged in (no \(store.path)); run `elena-run auth login`")
                throw ExitCode(1)
            }
            print("token file: \(store.path) (mode 600)")
            print(tokens.summary)
            guard !offline else { return }
            let client = FanvueClient(
                configuration: configuration, tokens: TokenProvider(store: store, oauth: OAuthClient(configuration: configuration)),
            logger: Wiring.logger("elena.fanvue"))
            do {
                let account = try await client.account
                print("Fanvue answers: logged in as account \(account)")
            } catch {
                print("Fanvue check failed: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Logout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget the saved login (deletes the token file).",
            discussion: """
                Example:
                  elena-run auth logout
                """)

        func run() async throws {
            let store = TokenStore(configFolder: Wiring.configFolder)
            let existed = FileManager.default.fileExists(atPath: store.path)
            try store.delete()
            print(existed ? "Logged out: \(store.path) deleted." : "Not logged in (no \(store.path)).")
        }
    }
}
