#!/usr/bin/env python3
"""Throughput of two peer croppers from PyPI on the same images, for `make bench`.

  bench_peers.py --tool autocrop|smartcrop --workers 2 --rounds 3 FILE...

Each worker process loads the tool once (and warms it up), then decodes, crops and re-encodes (JPEG q92) its
share of the images. Prints `<tool>_images_per_second N`.
"""
import argparse
import io
import multiprocessing
import time

TOOL = None


def init(tool, warmup_file):
    global TOOL
    if tool == "autocrop":
        from autocrop import Cropper

        TOOL = ("autocrop", Cropper(width=800, height=1000))
    else:
        import smartcrop

        TOOL = ("smartcrop", smartcrop.SmartCrop())
    work(warmup_file)


def work(path):
    name, tool = TOOL
    if name == "autocrop":
        import cv2

        result = tool.crop(path)
        image = result.image
        if image is not None:
            ok, _ = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            assert ok
    else:
        from PIL import Image

        with Image.open(path) as opened:
            image = opened.convert("RGB")
        box = tool.crop(image, 800, 1000)["top_crop"]
        cropped = image.crop((box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]))
        cropped.save(io.BytesIO(), format="JPEG", quality=92)
    return 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", choices=["autocrop", "smartcrop"], required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    jobs = args.files * args.rounds
    with multiprocessing.Pool(args.workers, initializer=init, initargs=(args.tool, args.files[0])) as pool:
        # Let every worker finish its warm-up before the clock starts.
        pool.map(time.sleep, [0.2] * args.workers)
        start = time.perf_counter()
        done = sum(pool.map(work, jobs, chunksize=1))
        elapsed = time.perf_counter() - start
    print(f"{args.tool}_images_per_second {done / elapsed:.2f}")


if __name__ == "__main__":
    main()
