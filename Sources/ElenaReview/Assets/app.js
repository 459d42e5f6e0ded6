// The review page of `elena-run review`: a grid of crops, a detail view with the draggable cut line, decisions,
// tags/price/vault, undo and a keyboard-first flow. Plain JavaScript, no build step, no dependency.
// The server is the only truth: every action's answer is merged, then the queue is fetched again; the queue is
// also polled every 5 s while the tab is visible, so folder moves made behind the page's back show up.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? '';
  const TOKEN = meta('review-token');
  const CSRF = meta('csrf-token');
  const POLL_MS = 5000;
  window.reviewTimings = { start: performance.now() }; // read by the browser tests (grid speed smoke check)

  const FLAG_LABELS = {
    no_face_found: 'No face found',
    multiple_faces: 'Several faces',
    face_at_edge: 'Face at edge',
    small_crop: 'Small crop',
    lips_uncertain: 'Lips uncertain',
    human_override: 'Recropped by hand',
    identity_uncertain: 'Close call (persona)',
    identity_conflict: 'Another face below hers',
  };
  const isWarning = (flag) => flag !== 'human_override'; // a hand-made cut is information, not a warning
  const FILTERS = {
    waiting: (it) => it.decision === 'pending',
    flagged: (it) => it.flags.some(isWarning),
    approved: (it) => it.decision === 'approved',
    rejected: (it) => it.decision === 'rejected',
    all: () => true,
    // auto (crop by the persona's face): faces kept as hers, and scores within 0.05 of a threshold.
    kept: (it) => it.identity?.verdict === 'hers' && it.strategy === 'keep',
    close: (it) => it.flags.includes('identity_uncertain'),
  };
  const FILTER_KEYS = ['waiting', 'flagged', 'approved', 'rejected', 'all'];
  const DECISION_WORDS = { approved: 'Approved', rejected: 'Rejected', pending: 'Back to waiting' };

  const state = {
    drop: '', counts: null, items: [], byId: new Map(),
    filter: 'waiting',
    view: [],              // ids shown, in order
    keep: new Set(),       // decided in this view: stay visible until the filter changes, so nothing jumps
    active: null,          // the focused card's id (the target when nothing is selected)
    anchor: null,          // where a shift-range starts
    selected: new Set(),
    detail: null,          // the id shown in the detail view
    generation: 0,         // bumped by every change we make, so an older poll answer is never applied
    version: null,         // the queue's version the page holds (null: load it again)
    loaded: false,
    showCut: false,        // `o`: the grid shows the originals with the cut line instead of the crops
    byScore: false,        // the grid sorted by the persona's score (auto)
  };
  const cards = new Map(); // id → {el, sig, filled}

  // ---------------------------------------------------------------- server
  class ApiError extends Error {}

  async function api(method, path, body) {
    const headers = { 'X-Review-Token': TOKEN, Accept: 'application/json' };
    if (method !== 'GET') { headers['X-CSRF-Token'] = CSRF; headers['Content-Type'] = 'application/json'; }
    let res;
    try {
      res = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError('The review server does not answer. Is `elena-run review` still running?');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: the text is the message */ }
    if (!res.ok) {
      const why = (data && data.error) || text.trim() || res.statusText;
      throw new ApiError(`${why} (${method} ${path}: HTTP ${res.status})`);
    }
    return { data, text };
  }

  // Image URLs carry the token; `v` (the crop digest) changes after a recrop, so the browser fetches again.
  const imageURL = (path, version) =>
    `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(TOKEN)}${version ? `&v=${version.slice(0, 16)}` : ''}`;

  // The queue comes in pages (a drop of 10,000 items paints its first cards from the first page); a poll sends the
  // version the page holds and gets only the counts back while nothing changed.
  const PAGE = 400;
  let refreshing = null, refreshAgain = false;
  async function refresh() {
    if (refreshing) { refreshAgain = true; return refreshing; }
    refreshing = (async () => {
      const generation = state.generation;
      const stale = () => { if (generation !== state.generation) { refreshAgain = true; return true; } return false; };
      try {
        let { data } = await api('GET', state.version
          ? `/api/items?since=${encodeURIComponent(state.version)}&limit=0` : `/api/items?limit=${PAGE}`);
        if (stale()) return;
        hideError(true);
        if (data.unchanged) {
          if (JSON.stringify(data.counts) !== JSON.stringify(state.counts)) { state.counts = data.counts; renderHeader(); }
          return;
        }
        const first = !state.loaded;
        if (!data.items) ({ data } = await api('GET', `/api/items?limit=${PAGE}`));
        if (stale()) return;
        const items = data.items.slice();
        const total = data.total ?? items.length;
        if (first) applyQueue(data); // the first page now; the rest as it comes
        // The other pages of the same version (the server answers them without reading the ledger again); the
        // grid takes them all at once.
        while (items.length < total) {
          const at = data.version ? `&version=${encodeURIComponent(data.version)}` : '';
          const { data: page } = await api('GET', `/api/items?offset=${items.length}&limit=${PAGE}${at}`);
          if (stale()) return;
          if (page.version !== data.version || !page.items.length) { refreshAgain = true; state.version = null; return; }
          items.push(...page.items);
        }
        state.version = data.version ?? null;
        if (!first || items.length > data.items.length) applyQueue({ ...data, items });
        if (first) window.reviewTimings.loaded = performance.now(); // every page is in
      } catch (err) {
        showError(err.message, true);
      }
    })();
    await refreshing;
    refreshing = null;
    if (refreshAgain) { refreshAgain = false; return refresh(); }
  }

  // A change: POST, merge the items the server answered with, then fetch the whole queue (counts, folders).
  let pending = 0;
  async function change(path, body) {
    state.generation += 1;
    pending += 1;
    document.body.classList.add('busy');
    try {
      const { data } = await api('POST', path, body);
      state.generation += 1; // a poll sent while this POST ran may hold the old state: ignore it
      // The answer holds every item that changed: merged, the page holds the server's new version.
      const inStep = data && data.previous_version && data.previous_version === state.version;
      merge(data && (data.items || (data.item ? [data.item] : [])));
      if (data && data.counts) state.counts = data.counts;
      state.version = inStep ? data.version : null;
      if (inStep) renderHeader();
      return data;
    } catch (err) {
      showError(err.message);
      state.version = null; // what the page shows may be what was asked, not what is: read the queue again
      return null;
    } finally {
      pending -= 1;
      if (!pending) document.body.classList.remove('busy');
      refresh();
    }
  }

  function applyQueue(data) {
    state.drop = data.drop;
    state.counts = data.counts;
    state.items = data.items || [];
    state.byId = new Map(state.items.map((it) => [it.id, it]));
    render();
  }

  function merge(items) {
    if (!items || !items.length) return;
    const position = new Map(state.items.map((x, i) => [x.id, i]));
    for (const it of items) {
      const i = position.get(it.id);
      if (i !== undefined) state.items[i] = it; else state.items.push(it);
      state.byId.set(it.id, it);
    }
    render();
  }

  // ---------------------------------------------------------------- rendering
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const money = (p) => (p == null ? '' : `$${Number(p).toFixed(2)}`);
  const statusWord = (it) => (it.status === 'published' ? 'Published' : ({ pending: 'Waiting', approved: 'Approved', rejected: 'Rejected' })[it.decision] || it.decision);
  const statusClass = (it) => (it.status === 'published' ? 'published' : it.decision);
  function detectorText(it) {
    if (!it.detector || it.detector === 'none') return `no detector · ${it.strategy}`;
    const faces = it.faces === 0 ? 'no face' : it.faces === 1 ? '1 face' : `${it.faces} faces`;
    return `${faces} · ${it.strategy}${identityText(it)}`;
  }
  // auto: the main face's score against the persona and what it is, e.g. " · persona 0.80 (hers)".
  const identityText = (it) => (it.identity ? ` · persona ${it.identity.score.toFixed(2)} (${it.identity.verdict})` : '');
  const flagsHTML = (it) =>
    it.flags.map((f) => `<li class="flag${isWarning(f) ? '' : ' note'}">${esc(FLAG_LABELS[f] || f)}</li>`).join('');
  const metaText = (it) => [money(it.price), it.vault, (it.tags || []).join(', ')].filter(Boolean).join(' · ');
  // Near-identical pictures of this drop (`group`, shown together) and the approved or published picture an item
  // a run found an item to look like (`looks_like`).
  const groupText = (it) => (it.group
    ? `${it.group.members.indexOf(it.id) + 1} of ${it.group.size} near-identical: keep the best, reject the rest`
    : '');
  const looksLikeText = (it) => (it.looks_like
    ? `Looks like ${it.looks_like.name} (drop ${it.looks_like.drop}, ${it.looks_like.status})` : '');
  const cardSig = (it) => [it.name, it.decision, it.status, it.folder, it.crop_digest, it.flags.join(), metaText(it), it.faces, it.strategy, identityText(it), groupText(it), looksLikeText(it), state.showCut].join('|');
  // The grid shows the crop (the bytes that would be published); the original with the cut line is a hover or
  // the `o` key away.
  const thumbURL = (it, cut) => imageURL(cut ? it.cut : it.thumb, it.crop_digest);

  function cardHTML(it) {
    const flags = flagsHTML(it);
    const h = Math.round(320 * (it.height || 3) / (it.width || 2));
    const hc = it.rect ? Math.round(320 * it.rect.height / Math.max(1, it.rect.width)) : h;
    return `<label class="pick"><input type="checkbox" tabindex="-1"><span class="sr-only">Select ${esc(it.name)}</span></label>
<span class="status badge ${statusClass(it)}">${statusWord(it)}</span>
<button type="button" class="thumb" data-act="open" tabindex="-1" aria-label="Open ${esc(it.name)}">
<img src="${esc(thumbURL(it, state.showCut))}" data-crop="${esc(thumbURL(it, false))}" data-cut="${esc(thumbURL(it, true))}" alt="" loading="lazy" decoding="async" width="320" height="${state.showCut ? h : hc}"></button>
<div class="info">
${it.group ? `<p class="group" title="Press g to keep this one and reject the others">${esc(groupText(it))} <kbd>g</kbd></p>` : ''}
<p class="name" title="${esc(it.name)}">${esc(it.name)}</p>
<p class="det" title="${esc(it.reason)}">${esc(detectorText(it))}</p>
${flags ? `<ul class="flags">${flags}</ul>` : ''}
${it.looks_like ? `<p class="looks" title="${esc(looksLikeText(it))}">${esc(looksLikeText(it))}</p>` : ''}
<p class="md">${esc(metaText(it)) || '&nbsp;'}</p>
</div>
<div class="card-actions"><button type="button" class="ok" data-act="approved" tabindex="-1">Approve</button><button type="button" class="bad" data-act="rejected" tabindex="-1">Reject</button></div>`;
  }

  function cardLabel(it) {
    const flags = it.flags.filter(isWarning).map((f) => FLAG_LABELS[f] || f);
    const group = it.group ? `, ${it.group.members.indexOf(it.id) + 1} of ${it.group.size} near-identical` : '';
    return `${it.name}, ${statusWord(it).toLowerCase()}${flags.length ? `, flagged: ${flags.join(', ').toLowerCase()}` : ''}${group}`;
  }

  // Cards start as empty shells (a focusable <li> with its label); their content is written when they come near
  // the viewport, and in idle time for the rest. So 1,000 items cost 1,000 small elements, not 40,000 nodes.
  const nearby = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) fill(e.target.dataset.id);
  }, { rootMargin: '800px 0px' });

  function cardFor(it) {
    let entry = cards.get(it.id);
    if (!entry) {
      const el = document.createElement('li');
      el.className = 'card';
      el.dataset.id = it.id;
      el.tabIndex = -1;
      entry = { el, sig: '', filled: false, item: null, showCut: null };
      cards.set(it.id, entry);
      nearby.observe(el);
    }
    // The same item object with the same view: nothing to compare (a grid of 10,000 renders on every decision).
    if (entry.item === it && entry.showCut === state.showCut) return entry.el;
    entry.item = it;
    entry.showCut = state.showCut;
    const sig = cardSig(it);
    if (entry.sig !== sig) {
      entry.sig = sig;
      entry.el.setAttribute('aria-label', cardLabel(it));
      entry.el.dataset.state = statusClass(it);
      entry.el.classList.toggle('in-group', !!it.group);
      if (entry.filled) fill(it.id, true);
    }
    return entry.el;
  }

  function fill(id, again = false) {
    const entry = cards.get(id), it = state.byId.get(id);
    if (!entry || !it || (entry.filled && !again)) return;
    const hadFocus = entry.el !== document.activeElement && entry.el.contains(document.activeElement);
    entry.el.innerHTML = cardHTML(it);
    entry.filled = true;
    nearby.unobserve(entry.el);
    setInnerTabbable(entry.el, id === state.active);
    entry.el.querySelector('.pick input').checked = state.selected.has(id);
    if (hadFocus) entry.el.focus({ preventScroll: true });
  }

  let idleQueued = false;
  function fillInIdleTime() {
    if (idleQueued) return;
    idleQueued = true;
    const idle = window.requestIdleCallback || ((f) => setTimeout(() => f({ timeRemaining: () => 8 }), 50));
    idle((deadline) => {
      idleQueued = false;
      const todo = state.view.filter((id) => !cards.get(id)?.filled);
      while (todo.length && deadline.timeRemaining() > 2) fill(todo.shift());
      if (todo.length) fillInIdleTime();
    });
  }

  // Only the active card is in the tab order, with its buttons; the grid is one tab stop (a roving tabindex).
  function setInnerTabbable(el, on) {
    el.tabIndex = on ? 0 : -1;
    el.classList.toggle('active', on);
    if (on) fill(el.dataset.id);
    for (const c of el.querySelectorAll('button, input')) c.tabIndex = on ? 0 : -1;
  }

  function render() {
    const firstRender = !state.loaded;
    state.loaded = true;
    const match = FILTERS[state.filter];
    let shown = state.items.filter((it) => match(it) || state.keep.has(it.id));
    // Sorted by the persona's score (highest first) when asked, or in the persona's own filters.
    if (state.byScore || state.filter === 'kept' || state.filter === 'close') {
      shown = [...shown].sort((a, b) => (b.identity?.score ?? -2) - (a.identity?.score ?? -2));
    }
    shown = together(shown);
    const view = shown.map((it) => it.id);
    for (const [id, { el }] of cards) if (!state.byId.has(id)) { nearby.unobserve(el); cards.delete(id); }
    for (const id of [...state.selected]) if (!state.byId.has(id)) state.selected.delete(id);

    const grid = $('grid');
    const els = view.map((id) => cardFor(state.byId.get(id)));
    // The first screenful is written at once (so it paints complete); the rest when scrolled to, or when idle.
    const screenful = Math.ceil(innerWidth / 180) * Math.ceil(innerHeight / 380 + 1);
    for (const id of view.slice(0, screenful)) fill(id);
    const sameOrder = els.length === grid.children.length && els.every((el, i) => grid.children[i] === el);
    if (!sameOrder) {
      const focusedId = document.activeElement?.closest?.('.card')?.dataset.id;
      grid.replaceChildren(...els);
      if (focusedId && view.includes(focusedId)) cards.get(focusedId).el.focus({ preventScroll: true });
    }
    // The active card stays where it was; if it left the view, its neighbour takes its place.
    if (!view.includes(state.active)) {
      const old = state.view.indexOf(state.active);
      const next = state.view.slice(old + 1).find((id) => view.includes(id)) ?? view[view.length - 1] ?? null;
      setActive(old >= 0 ? next : view[0] ?? null, { focus: firstRender || document.activeElement === document.body });
    }
    state.view = view;
    for (const [id, { el }] of cards) {
      const on = id === state.active;
      if (el.classList.contains('active') !== on) setInnerTabbable(el, on);
      const sel = state.selected.has(id);
      if (el.classList.contains('selected') !== sel) el.classList.toggle('selected', sel);
      const box = el.firstElementChild?.firstElementChild; // .pick input, when the card is filled
      if (box && box.checked !== sel) box.checked = sel;
    }
    fillInIdleTime();
    renderHeader();
    renderBulk();
    const empty = $('empty');
    empty.hidden = view.length > 0;
    if (!view.length) {
      empty.textContent = state.items.length === 0 ? 'This drop has no images in review.'
        : state.filter === 'waiting' ? 'Nothing is waiting: every image of this drop has a decision. ' +
          'Press 5 or choose “All” to see them.' : 'No image matches this filter.';
    }
    if (state.detail) renderDetail();
    if (firstRender && view.length) {
      // Two frames later the first cards are painted: the figure the grid speed check prints.
      requestAnimationFrame(() => requestAnimationFrame(() => { window.reviewTimings.firstCard = performance.now(); }));
    }
  }

  // The members of a near-identical group side by side: each group where its first shown member is, its shown
  // members in the order they came (the queue's, or the score's); the other items keep their places.
  function together(list) {
    const members = new Map();
    for (const it of list) {
      if (!it.group) continue;
      const group = members.get(it.group.id);
      if (group) group.push(it); else members.set(it.group.id, [it]);
    }
    if (![...members.values()].some((m) => m.length > 1)) return list;
    const out = [];
    for (const it of list) {
      if (!it.group) { out.push(it); continue; }
      const group = members.get(it.group.id);
      if (group) { out.push(...group); members.delete(it.group.id); }
    }
    return out;
  }

  let lastCounter = '';
  function renderHeader() {
    const c = state.counts || {};
    const pendingCount = c.pending ?? state.items.filter(FILTERS.waiting).length;
    const total = c.total ?? state.items.length;
    const text = `<strong>${pendingCount}</strong> left to review <span class="of">of ${total}</span>` +
      `<span class="sep">·</span>${c.approved ?? 0} approved<span class="sep">·</span>${c.rejected ?? 0} rejected`;
    if (text !== lastCounter) { $('counter').innerHTML = text; lastCounter = text; } // unchanged: no re-announcement
    // The persona's filters show only for a drop that crops by her face (auto).
    const persona = state.items.some((it) => it.identity);
    const personaBar = document.querySelector('.filters .persona');
    if (personaBar && personaBar.hidden === persona) personaBar.hidden = !persona;
    for (const key of persona ? [...FILTER_KEYS, 'kept', 'close'] : FILTER_KEYS) {
      const n = state.items.filter(FILTERS[key]).length;
      const slot = document.querySelector(`[data-count="${key}"]`);
      if (slot.textContent !== String(n)) slot.textContent = String(n);
    }
    for (const b of document.querySelectorAll('[data-filter]')) b.setAttribute('aria-pressed', String(b.dataset.filter === state.filter));
    $('progress-done').style.width = total ? `${(100 * (total - pendingCount)) / total}%` : '0';
    document.title = `${pendingCount ? `(${pendingCount}) ` : ''}Review · ${state.drop || ''}`;
  }

  function renderBulk() {
    const n = state.selected.size;
    $('bulk').hidden = n === 0;
    document.body.classList.toggle('has-bulk', n > 0);
    $('bulk-count').textContent = n ? `${n} selected` : '';
  }

  // ---------------------------------------------------------------- focus and selection
  function setActive(id, { focus = true, scroll = true } = {}) {
    const old = state.active && cards.get(state.active);
    if (old && state.active !== id) setInnerTabbable(old.el, false);
    state.active = id;
    const entry = id && cards.get(id);
    if (!entry) return;
    setInnerTabbable(entry.el, true);
    if (focus) entry.el.focus({ preventScroll: true });
    if (scroll) entry.el.scrollIntoView({ block: 'nearest' });
  }

  function move(step, extend) {
    const view = state.view;
    if (!view.length) return;
    const i = view.indexOf(state.active);
    const next = view[Math.max(0, Math.min(view.length - 1, i < 0 ? 0 : i + step))];
    if (extend) {
      if (!state.anchor) state.anchor = state.active;
      selectRange(state.anchor, next, true);
    } else {
      state.anchor = next;
    }
    setActive(next);
    render();
  }

  function columns() {
    return getComputedStyle($('grid')).gridTemplateColumns.split(' ').filter(Boolean).length || 1;
  }

  function selectRange(from, to, replace) {
    const view = state.view;
    let a = view.indexOf(from), b = view.indexOf(to);
    if (a < 0) a = b;
    if (a > b) [a, b] = [b, a];
    if (replace) state.selected.clear();
    for (const id of view.slice(a, b + 1)) state.selected.add(id);
  }

  function toggle(id) {
    if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
    state.anchor = id;
  }

  // The images an action applies to: the selection, else the focused card (in the detail view: its image).
  function targets() {
    if (state.detail) return [state.detail];
    if (state.selected.size) return state.view.filter((id) => state.selected.has(id));
    return state.active ? [state.active] : [];
  }

  // ---------------------------------------------------------------- actions
  async function decide(ids, decision, { advance = false, quiet = false } = {}) {
    if (!ids.length) return;
    const names = ids.length === 1 ? state.byId.get(ids[0])?.name : `${ids.length} images`;
    ids.forEach((id) => state.keep.add(id));
    const bulk = ids.length > 1 || (!state.detail && state.selected.size > 0);
    if (advance && !bulk) advanceFrom(ids[0]);
    if (bulk && !state.detail) state.selected.clear();
    // Shown at once; the server's answer (or, if it fails, the next refresh) says what it became.
    merge(ids.map((id) => state.byId.get(id)).filter(Boolean).map((it) => ({ ...it, decision })));
    const data = await change('/api/decisions', { items: ids, decision });
    if (data && !quiet) toast(`${DECISION_WORDS[decision]}: ${names}`);
    return data;
  }

  // `g`: keeps the focused image (the best of its near-identical group) and rejects the rest of its group, through
  // the same decision request as `r`. The kept one keeps its decision (a rejected one goes back to waiting) and the
  // focus, so `a` approves it next.
  async function keepBest() {
    const id = state.detail ?? state.active;
    const it = id ? state.byId.get(id) : null;
    if (!it) return;
    if (!it.group) { toast(`${it.name} has no near-identical image in this drop`, false); return; }
    const rest = it.group.members.filter((m) => m !== id && state.byId.has(m) && state.byId.get(m).decision !== 'rejected');
    if (it.decision === 'rejected') await decide([id], 'pending');
    if (!rest.length) { toast(`The others near-identical to ${it.name} are rejected already`, false); return; }
    const data = await decide(rest, 'rejected', { quiet: true });
    if (data) toast(`Kept ${it.name}; rejected ${rest.length} near-identical`);
  }

  // After a single decision, go to the next image still waiting (or simply the next one).
  function advanceFrom(id) {
    const view = state.view;
    const i = view.indexOf(id);
    const after = view.slice(i + 1);
    const next = after.find((x) => state.byId.get(x)?.decision === 'pending') ?? after[0];
    if (!next) return;
    if (state.detail) showDetail(next); else { state.anchor = next; setActive(next); }
  }

  async function undo() {
    const data = await change('/api/undo');
    if (!data) return;
    if (data.undone == null) { toast('Nothing left to undo', false); return; }
    const ids = (data.items || []).map((it) => it.id);
    ids.forEach((id) => state.keep.add(id));
    render();
    if (ids.length && !state.detail) setActive(ids[0]);
    else if (ids.length && state.detail && ids.length === 1) showDetail(ids[0]);
    toast(`Undone: ${data.undone}`, false);
  }

  // ---------------------------------------------------------------- tags, price, vault
  const metaDialog = $('meta-dialog');
  let metaFor = [], metaStart = {};

  function openMeta(ids) {
    if (!ids.length) return;
    metaFor = ids;
    const items = ids.map((id) => state.byId.get(id)).filter(Boolean);
    const same = (f) => { const v = items.map(f); return v.every((x) => x === v[0]) ? v[0] : null; };
    metaStart = {
      tags: same((it) => (it.tags || []).join(', ')) ?? '',
      price: same((it) => (it.price == null ? '' : Number(it.price).toFixed(2))) ?? '',
      vault: same((it) => it.vault || '') ?? '',
    };
    const mixed = items.length > 1 ? 'different values: leave as is to keep them' : '';
    $('meta-tags').value = metaStart.tags;
    $('meta-price').value = metaStart.price;
    $('meta-vault').value = metaStart.vault;
    $('meta-tags').placeholder = same((it) => (it.tags || []).join(', ')) == null ? mixed : 'e.g. dress, beach';
    $('meta-price').placeholder = same((it) => it.price) == null && items.length > 1 ? mixed : '12.00';
    $('meta-vault').placeholder = same((it) => it.vault || '') == null ? mixed : 'e.g. elena-ppv';
    $('meta-for').textContent = items.length === 1 ? `For ${items[0].name}` : `For ${items.length} images`;
    $('meta-vaults').innerHTML = [...new Set(state.items.map((it) => it.vault).filter(Boolean))].map((v) => `<option value="${esc(v)}">`).join('');
    $('meta-error').hidden = true;
    metaDialog.showModal();
    $('meta-tags').focus();
    $('meta-tags').select();
  }

  async function saveMeta(ev) {
    ev.preventDefault();
    const body = { items: metaFor };
    const tags = $('meta-tags').value, price = $('meta-price').value.trim(), vault = $('meta-vault').value.trim();
    if (tags !== metaStart.tags) body.tags = [...new Set(tags.split(',').map((t) => t.trim()).filter(Boolean))];
    if (price !== metaStart.price && price !== '') {
      const p = Number(price);
      if (!Number.isFinite(p) || p < 3) return metaError('The price must be at least 3.00 USD.', 'meta-price');
      body.price = Math.round(p * 100) / 100;
    }
    if (vault !== metaStart.vault && vault !== '') body.vault = vault;
    if (Object.keys(body).length === 1) { metaDialog.close(); return; }
    $('meta-save').disabled = true;
    const data = await change('/api/metadata', body);
    $('meta-save').disabled = false;
    if (!data) return; // the banner says why; the dialog stays open to fix it
    metaDialog.close();
    toast(`Saved for ${metaFor.length === 1 ? state.byId.get(metaFor[0])?.name : `${metaFor.length} images`}`);
  }

  function metaError(text, field) {
    $('meta-error').textContent = text;
    $('meta-error').hidden = false;
    $(field).focus();
  }

  // ---------------------------------------------------------------- detail view
  const detail = $('detail');
  let dragFraction = null; // the cut line while it is dragged or moved by keys, as a fraction of the height

  function showDetail(id) {
    if (!id || !state.byId.has(id)) return;
    state.detail = id;
    setActive(id, { focus: false });
    dragFraction = null;
    renderDetail();
    if (!detail.open) detail.showModal();
  }

  function closeDetail() {
    const id = state.detail;
    state.detail = null;
    if (detail.open) detail.close();
    render();
    if (id && cards.has(id)) setActive(id);
  }

  function renderDetail() {
    const it = state.byId.get(state.detail);
    if (!it) { closeDetail(); return; }
    $('d-name').textContent = it.name;
    const st = $('d-status');
    st.textContent = statusWord(it);
    st.className = `status ${statusClass(it)}`;
    for (const b of detail.querySelectorAll('.d-actions [data-d]')) b.setAttribute('aria-pressed', String(b.dataset.d === it.decision));
    const i = state.view.indexOf(it.id);
    $('d-pos').textContent = i >= 0 ? `${i + 1} of ${state.view.length}` : '';
    $('d-prev').disabled = i <= 0;
    $('d-next').disabled = i < 0 || i >= state.view.length - 1;

    const orig = $('d-orig'), crop = $('d-crop');
    const origSrc = imageURL(it.original);
    if (orig.getAttribute('src') !== origSrc) {
      orig.setAttribute('src', origSrc);
      orig.width = it.width; orig.height = it.height; // the layout is right before the bytes arrive
    }
    orig.alt = `Original of ${it.name}`;
    const cropSrc = imageURL(it.crop, it.crop_digest);
    if (crop.getAttribute('src') !== cropSrc) {
      crop.setAttribute('src', cropSrc);
      crop.width = it.rect.width; crop.height = it.rect.height;
      crop.dataset.digest = it.crop_digest;
    }
    crop.alt = `Crop of ${it.name}, ${it.rect.width} × ${it.rect.height} px`;
    if (dragFraction == null) placeCut(it.line / it.height, it);

    $('d-flags').innerHTML = flagsHTML(it) + (it.identity
      ? `<li class="flag note">Persona: ${it.identity.scores.map((x) => x.toFixed(3)).join(', ')} (kept from ${it.identity.keep_above}, lips only from ${it.identity.lips_above})</li>`
      : '');
    const pct = (100 * it.line / it.height).toFixed(1);
    $('d-facts').innerHTML = facts([
      ['Detector', it.detector || 'none'],
      ['Faces', it.faces],
      ['Strategy', it.strategy],
      ['Reason', it.reason],
      ['Cut line', `${it.line} px from the top (${pct} %)`],
      ['Crop', `${it.rect.width} × ${it.rect.height} px of ${it.width} × ${it.height}`],
      ['File', `${it.folder}/…/${it.file}`],
      ['Near-identical', it.group ? `${it.group.size} in this drop: ${it.group.members.map((m) => state.byId.get(m)?.name ?? m.slice(0, 12)).join(', ')} (g keeps this one, rejects the others)` : ''],
      ['Looks like', it.looks_like ? `${it.looks_like.name} (drop ${it.looks_like.drop}, ${it.looks_like.status})` : ''],
    ]);
    $('d-meta').innerHTML = facts([
      ['Tags', (it.tags || []).join(', ') || '—'],
      ['Price', money(it.price) || '—'],
      ['Vault', it.vault || '—'],
    ]);
    $('d-lineage').innerHTML = lineageHTML(it.lineage);
  }

  const facts = (rows) => rows.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');

  function lineageHTML(l) {
    if (!l) return '<p class="muted">This image carried no ComfyUI metadata.</p>';
    const loras = (l.loras || []).map((x) => `<li><span class="lora">${esc(x.name)}</span> <span class="muted">model ${esc(x.strengthModel)} · clip ${esc(x.strengthClip)}</span></li>`).join('');
    const sampler = [l.sampler, l.scheduler].filter(Boolean).join(' / ');
    const size = l.width && l.height ? `${l.width} × ${l.height}` : '';
    return `<dl class="facts">${facts([['Seed', l.seed], ['Checkpoint', l.checkpoint], ['Size', size], ['Steps', l.steps], ['CFG', l.cfg], ['Sampler', sampler]])}
${loras ? `<dt>LoRAs</dt><dd><ul class="loras">${loras}</ul></dd>` : ''}</dl>
${l.positive ? `<p class="prompt-label">Prompt</p><p class="prompt">${esc(l.positive)}</p>` : ''}
${l.negative ? `<details><summary>Negative prompt</summary><p class="prompt">${esc(l.negative)}</p></details>` : ''}`;
  }

  // The kept part is outlined and the removed part dimmed: the server's rect once known, else the line alone.
  function placeCut(fraction, it, dragging = false) {
    const cut = $('d-cut'), keep = $('d-keep');
    cut.style.top = `${fraction * 100}%`;
    const pct = Math.round(fraction * 1000) / 10;
    cut.setAttribute('aria-valuenow', String(pct));
    cut.setAttribute('aria-valuetext', `${pct} % from the top`);
    if (!dragging && it.rect) {
      Object.assign(keep.style, {
        left: `${(100 * it.rect.x) / it.width}%`, top: `${(100 * it.rect.y) / it.height}%`,
        width: `${(100 * it.rect.width) / it.width}%`, height: `${(100 * it.rect.height) / it.height}%`,
      });
    } else {
      Object.assign(keep.style, { left: '0', top: `${fraction * 100}%`, width: '100%', height: `${(1 - fraction) * 100}%` });
    }
  }

  const MAX_LINE = 0.95;
  const clampLine = (f) => Math.max(0, Math.min(MAX_LINE - 0.001, f));

  function startDrag(ev) {
    const it = state.byId.get(state.detail);
    if (!it || ev.button !== 0) return;
    ev.preventDefault();
    const cut = $('d-cut'), stage = $('d-stage');
    cut.setPointerCapture(ev.pointerId);
    cut.focus({ preventScroll: true });
    stage.classList.add('dragging');
    const box = stage.getBoundingClientRect();
    const onMove = (e) => {
      dragFraction = clampLine((e.clientY - box.top) / box.height);
      placeCut(dragFraction, it, true);
    };
    const onUp = (e) => {
      cut.removeEventListener('pointermove', onMove);
      cut.removeEventListener('pointerup', onUp);
      cut.removeEventListener('pointercancel', onUp);
      stage.classList.remove('dragging');
      if (e.type === 'pointerup') onMove(e);
      commitCut(e.type === 'pointerup');
    };
    cut.addEventListener('pointermove', onMove);
    cut.addEventListener('pointerup', onUp);
    cut.addEventListener('pointercancel', onUp);
  }

  let keyTimer = null;
  function keyCut(ev) {
    const it = state.byId.get(state.detail);
    if (!it || !['ArrowUp', 'ArrowDown', 'PageUp', 'PageDown'].includes(ev.key)) return;
    ev.preventDefault();
    ev.stopPropagation();
    const step = (ev.shiftKey || ev.key.startsWith('Page') ? 0.05 : 0.005) * (ev.key.endsWith('Up') ? -1 : 1);
    dragFraction = clampLine((dragFraction ?? it.line / it.height) + step);
    placeCut(dragFraction, it, true);
    clearTimeout(keyTimer);
    keyTimer = setTimeout(() => commitCut(true), 700); // recrop once the keys rest
  }

  // Sends the new line (a fraction of the original's height); the answer brings the new crop and its digest.
  async function commitCut(apply) {
    const it = state.byId.get(state.detail);
    const fraction = dragFraction;
    if (!it || fraction == null) return;
    if (!apply || Math.abs(fraction - it.line / it.height) < 0.002) {
      dragFraction = null;
      placeCut(it.line / it.height, it);
      return;
    }
    const note = $('d-stage-note');
    note.textContent = 'Recropping…';
    note.hidden = false;
    $('d-stage').classList.add('working');
    const data = await change('/api/recrop', { item: it.id, line: Math.round(fraction * 10000) / 10000 });
    $('d-stage').classList.remove('working');
    note.hidden = true;
    dragFraction = null;
    state.keep.add(it.id);
    if (state.detail) renderDetail();
    if (data) toast(`New crop for ${it.name}: it waits for review again`, false);
  }

  // ---------------------------------------------------------------- banner and toast
  let bannerIsConnection = false;
  function showError(text, connection = false) {
    $('banner-text').textContent = text;
    $('banner').hidden = false;
    bannerIsConnection = connection;
  }
  function hideError(onlyConnection = false) {
    if (onlyConnection && !bannerIsConnection) return;
    $('banner').hidden = true;
  }

  let toastTimer = null;
  function toast(text, undoable = true) {
    $('toast-text').textContent = text;
    $('toast-undo').hidden = !undoable;
    $('toast').hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { $('toast').hidden = true; }, 5000);
  }

  // ---------------------------------------------------------------- events
  function setFilter(key) {
    if (!FILTERS[key]) return;
    state.filter = key;
    state.keep.clear();
    state.selected.clear();
    render();
    const first = state.view[0];
    if (first) setActive(first, { focus: !state.detail }); else state.active = null;
    window.scrollTo({ top: 0 });
  }

  function onGridClick(ev) {
    const card = ev.target.closest('.card');
    if (!card || ev.target.closest('.pick')) return; // the checkbox has its own handler
    const id = card.dataset.id;
    const act = ev.target.closest('[data-act]')?.dataset.act;
    if (act === 'approved' || act === 'rejected') {
      state.anchor = id;
      setActive(id);
      decide([id], act);
      return;
    }
    if (act === 'open' && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey) { showDetail(id); return; }
    if (ev.shiftKey) {
      selectRange(state.anchor ?? state.active ?? id, id, !(ev.ctrlKey || ev.metaKey));
    } else if (ev.ctrlKey || ev.metaKey) {
      toggle(id);
    } else {
      state.selected.clear();
      state.anchor = id;
    }
    setActive(id, { scroll: false });
    render();
  }

  function onKey(ev) {
    if (ev.defaultPrevented || ev.isComposing) return;
    const t = ev.target;
    const typing = t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) && t.type !== 'checkbox';
    if (typing) return;
    if (metaDialog.open || $('help').open) {
      if (ev.key === '?' && $('help').open) { $('help').close(); ev.preventDefault(); }
      return; // those dialogs handle their own keys (Esc closes them)
    }
    const key = ev.key;
    if ((ev.ctrlKey || ev.metaKey) && key.toLowerCase() === 'a' && !state.detail) {
      ev.preventDefault();
      state.view.forEach((id) => state.selected.add(id));
      render();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const inDetail = !!state.detail;
    const onButton = t instanceof HTMLButtonElement || t instanceof HTMLAnchorElement || t instanceof HTMLInputElement;
    let handled = true;
    switch (key) {
      case 'a': case 'A': decide(targets(), 'approved', { advance: true }); break;
      case 'r': case 'R': decide(targets(), 'rejected', { advance: true }); break;
      case 'w': case 'W': decide(targets(), 'pending'); break;
      case 'g': case 'G': keepBest(); break;
      case 'u': case 'U': undo(); break;
      case 't': case 'T': openMeta(targets()); break;
      case 'o': case 'O':
        if (inDetail) { handled = false; break; }
        state.showCut = !state.showCut;
        document.body.classList.toggle('show-cut', state.showCut);
        render();
        break;
      case '?': $('help').showModal(); break;
      case 'j': case 'ArrowRight':
        if (inDetail) showDetail(neighbour(1)); else move(1, ev.shiftKey);
        break;
      case 'k': case 'ArrowLeft':
        if (inDetail) showDetail(neighbour(-1)); else move(-1, ev.shiftKey);
        break;
      case 'ArrowDown': if (inDetail) handled = false; else move(columns(), ev.shiftKey); break;
      case 'ArrowUp': if (inDetail) handled = false; else move(-columns(), ev.shiftKey); break;
      case 'Home': if (inDetail) handled = false; else move(-Infinity, ev.shiftKey); break;
      case 'End': if (inDetail) handled = false; else move(Infinity, ev.shiftKey); break;
      case 'Enter':
        if (inDetail || onButton) handled = false; else showDetail(state.active);
        break;
      case ' ': case 'x': case 'X':
        if (inDetail || (onButton && key === ' ')) { handled = false; break; }
        if (state.active) { toggle(state.active); render(); }
        break;
      case 'Escape':
        if (inDetail) { closeDetail(); break; }
        if (state.selected.size) { state.selected.clear(); render(); } else handled = false;
        break;
      case '1': case '2': case '3': case '4': case '5':
        if (inDetail) { handled = false; break; }
        setFilter(FILTER_KEYS[Number(key) - 1]);
        break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  }

  const neighbour = (step) => {
    const i = state.view.indexOf(state.detail);
    return state.view[i + step] ?? null;
  };

  function wire() {
    const grid = $('grid');
    grid.addEventListener('click', onGridClick);
    // Hovering a thumbnail shows the original with the cut line; leaving it shows the crop again.
    const swap = (ev, toCut) => {
      const img = ev.target instanceof Element ? ev.target.closest('.thumb')?.querySelector('img') : null;
      if (img && !state.showCut) img.src = toCut ? img.dataset.cut : img.dataset.crop;
    };
    grid.addEventListener('mouseover', (ev) => swap(ev, true));
    grid.addEventListener('mouseout', (ev) => swap(ev, false));
    grid.addEventListener('dblclick', (ev) => {
      const card = ev.target.closest('.card');
      if (card && !ev.target.closest('button, .pick')) showDetail(card.dataset.id);
    });
    grid.addEventListener('change', (ev) => {
      const card = ev.target.closest('.card');
      if (!card || !ev.target.matches('.pick input')) return;
      const id = card.dataset.id;
      if (ev.target.checked) state.selected.add(id); else state.selected.delete(id);
      state.anchor = id;
      setActive(id, { focus: false, scroll: false });
      render();
    });
    grid.addEventListener('focusin', (ev) => {
      const card = ev.target.closest('.card');
      if (card && card.dataset.id !== state.active) setActive(card.dataset.id, { focus: false, scroll: false });
    });
    document.addEventListener('keydown', onKey);

    for (const b of document.querySelectorAll('[data-filter]')) b.addEventListener('click', () => setFilter(b.dataset.filter));
    $('by-score')?.addEventListener('click', () => {
      state.byScore = !state.byScore;
      $('by-score').setAttribute('aria-pressed', String(state.byScore));
      render();
    });
    $('bulk').addEventListener('click', (ev) => {
      const what = ev.target.closest('[data-bulk]')?.dataset.bulk;
      if (!what) return;
      const ids = state.view.filter((id) => state.selected.has(id));
      if (what === 'clear') { state.selected.clear(); render(); } else if (what === 'meta') openMeta(ids);
      else decide(ids, what);
    });
    $('banner-close').addEventListener('click', () => hideError());
    $('toast-undo').addEventListener('click', () => { $('toast').hidden = true; undo(); });
    $('help-btn').addEventListener('click', () => $('help').showModal());
    $('help-close').addEventListener('click', () => $('help').close());

    $('meta-form').addEventListener('submit', saveMeta);
    $('meta-cancel').addEventListener('click', () => metaDialog.close());

    detail.addEventListener('cancel', (ev) => { ev.preventDefault(); closeDetail(); });
    detail.addEventListener('click', (ev) => { if (ev.target === detail) closeDetail(); }); // the backdrop
    $('d-close').addEventListener('click', closeDetail);
    $('d-prev').addEventListener('click', () => showDetail(neighbour(-1)));
    $('d-next').addEventListener('click', () => showDetail(neighbour(1)));
    detail.querySelector('.d-info').addEventListener('click', (ev) => {
      const d = ev.target.closest('[data-d]')?.dataset.d;
      if (d === 'meta') openMeta([state.detail]);
      else if (d) decide([state.detail], d, { advance: d !== 'pending' });
    });
    $('d-cut').addEventListener('pointerdown', startDrag);
    $('d-cut').addEventListener('keydown', keyCut);

    // Poll while the tab is visible; come back up to date at once when it becomes visible again.
    setInterval(() => { if (document.visibilityState === 'visible') refresh(); }, POLL_MS);
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') refresh(); });
  }

  wire();
  refresh();
})();
