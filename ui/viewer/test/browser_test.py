#!/usr/bin/env python3
"""Browser test of the 3D viewer (ui/assets/viewer.js + ui/assets/ui.js).

Runs headless Chromium through chromedriver's W3C WebDriver HTTP API (standard
library only), on a page served with the node's strict CSP. It opens an STL, a
3MF and an OBJ, checks data-state / data-triangles, takes a screenshot of each,
checks a 404 and an unreadable file end in data-state="error", that a second
click closes the view, and that no CSP violation happened.

Needs Debian's chromium and chromium-driver. Usage (from the repository root):
    python3 ui/viewer/test/browser_test.py [--shots DIR] [--probe]
--probe only reports which flag sets give WebGL in headless Chromium.

The flags that give WebGL without a GPU are CHROME_FLAGS below: SwiftShader
(software WebGL through ANGLE) has to be asked for explicitly.
"""

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

ASSETS = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "assets"))

BASE_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1000,900",
]
WEBGL_FLAGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
CHROME_FLAGS = BASE_FLAGS + WEBGL_FLAGS

# The policy the node serves its pages with.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

CASES = [
    # (button id, model url, format, expected state, expected triangles)
    ("stl", "/models/cube.stl", "stl", "ready", 12),
    ("3mf", "/models/pyramid.3mf", "3mf", "ready", 6),
    ("obj", "/models/house.obj", "obj", "ready", 16),
    ("missing", "/models/missing.stl", "stl", "error", None),
    ("garbage", "/models/garbage.3mf", "3mf", "error", None),
]


def write_site(root):
    """Test models (a 20 mm cube, a Z-up pyramid, a Y-up house) and the page."""
    os.makedirs(os.path.join(root, "models"))
    cube = []
    v = [(x, y, z) for x in (0, 20) for y in (0, 20) for z in (0, 20)]
    for a, b, c, d in [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]:
        cube += [(v[a], v[b], v[c]), (v[a], v[c], v[d])]
    with open(os.path.join(root, "models/cube.stl"), "wb") as f:
        f.write(b"communs test cube".ljust(80, b" ") + struct.pack("<I", len(cube)))
        for tri in cube:
            f.write(struct.pack("<3f", 0, 0, 0))
            for p in tri:
                f.write(struct.pack("<3f", *p))
            f.write(b"\0\0")

    # Square pyramid, apex at z=40: with Z up on screen the apex points up.
    verts = [(0, 0, 0), (30, 0, 0), (30, 30, 0), (0, 30, 0), (15, 15, 40)]
    tris = [(0, 2, 1), (0, 3, 2), (0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 0, 4)]
    core = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
    model = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<model unit="millimeter" xmlns="{core}">'
        '<resources><object id="1" type="model"><mesh><vertices>'
        + "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in verts)
        + "</vertices><triangles>"
        + "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in tris)
        + '</triangles></mesh></object></resources><build><item objectid="1"/></build></model>'
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
        'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
    )
    with zipfile.ZipFile(os.path.join(root, "models/pyramid.3mf"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", rels)
        z.writestr("3D/3dmodel.model", model)

    # Y-up house: 7 quads (14 triangles once split) and 2 gable triangles.
    with open(os.path.join(root, "models/house.obj"), "w") as f:
        f.write(
            "v 0 0 0\nv 20 0 0\nv 20 0 20\nv 0 0 20\nv 0 10 0\nv 20 10 0\nv 20 10 20\nv 0 10 20\n"
            "v 0 18 10\nv 20 18 10\nf 1 4 3 2\nf 1 2 6 5\nf 2 3 7 6\nf 3 4 8 7\nf 4 1 5 8\n"
            "f 5 6 10 9\nf 7 8 9 10\nf 5 9 8\nf 6 7 10\n"
        )
    with open(os.path.join(root, "models/garbage.3mf"), "wb") as f:
        f.write(b"not a zip archive " * 20)

    with open(os.path.join(root, "test.css"), "w") as f:
        f.write(".viewer { width: 100%; height: 360px; background: #eee; }\nbody { margin: 8px; }\n")
    buttons = "\n".join(
        f'<p><button type="button" id="b-{name}" data-open-3d data-url="{url}" data-format="{fmt}" '
        f'data-target="v-{name}">Open 3D view ({name})</button></p>\n<div id="v-{name}" class="viewer" hidden></div>'
        for name, url, fmt, _, _ in CASES
    )
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>viewer test</title>'
            '<link rel="stylesheet" href="/test.css">'
            '<script type="module" src="/ui/assets/ui.js"></script></head><body>\n'
            f"{buttons}\n</body></html>\n"
        )


class Handler(SimpleHTTPRequestHandler):
    """Serves the test site, /ui/assets/ from the repository, with the CSP."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def translate_path(self, path):
        if path.startswith("/ui/assets/"):
            return os.path.join(ASSETS, path[len("/ui/assets/"):].split("?")[0])
        return super().translate_path(path)

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, port, flags):
        self.base = f"http://127.0.0.1:{port}"
        caps = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": flags + ["--user-data-dir=" + tempfile.mkdtemp(prefix="chromium-")],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }
        self.session = self.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.read().decode()[:500]}") from None

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(el.values()))

    def log(self):
        try:  # chromedriver's (non-W3C) log endpoint
            return self.s("POST", "/se/log", {"type": "browser"})
        except RuntimeError:
            return []

    def quit(self):
        try:
            self.s("DELETE", "")
        except Exception:
            pass


def start_chromedriver():
    port = free_port()
    proc = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("chromedriver did not start")


WEBGL_PROBE = """
const gl = document.createElement('canvas').getContext('webgl2');
if (!gl) return null;
const ext = gl.getExtension('WEBGL_debug_renderer_info');
return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
"""


def probe(driver_port, site_url):
    sets = {
        "base (with --disable-gpu)": BASE_FLAGS,
        "base + --use-angle=swiftshader": BASE_FLAGS + ["--use-angle=swiftshader"],
        "base + --enable-unsafe-swiftshader": BASE_FLAGS + ["--enable-unsafe-swiftshader"],
        "base + both": BASE_FLAGS + WEBGL_FLAGS,
        "both, without --disable-gpu": [f for f in BASE_FLAGS if f != "--disable-gpu"] + WEBGL_FLAGS,
    }
    for name, flags in sets.items():
        d = WebDriver(driver_port, flags)
        try:
            d.s("POST", "/url", {"url": site_url})
            print(f"{name}: WebGL2 renderer = {d.js(WEBGL_PROBE)}")
        finally:
            d.quit()


def main():
    shots = "/tmp/viewer-shots"
    if "--shots" in sys.argv:
        shots = sys.argv[sys.argv.index("--shots") + 1]
    os.makedirs(shots, exist_ok=True)
    site = tempfile.mkdtemp(prefix="viewer-site-")
    write_site(site)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site_url = f"http://127.0.0.1:{server.server_address[1]}/index.html"

    chromedriver, driver_port = start_chromedriver()
    failures = []
    try:
        if "--probe" in sys.argv:
            probe(driver_port, site_url)
            return 0
        d = WebDriver(driver_port, CHROME_FLAGS)
        try:
            d.s("POST", "/url", {"url": site_url})
            print("WebGL2 renderer:", d.js(WEBGL_PROBE))
            d.js(
                "window.__csp = [];"
                "document.addEventListener('securitypolicyviolation', e =>"
                " window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
            loaded = lambda: d.js(
                "return performance.getEntriesByType('resource').some(e => e.name.endsWith('/viewer.js'))"
            )
            if loaded():
                failures.append("viewer.js was fetched before any click")
            for name, _, _, want_state, want_tris in CASES:
                d.s("POST", f"/element/{d.find('#b-' + name)}/click", {})
                state, t0 = None, time.time()
                while time.time() - t0 < 90:
                    state = d.js(f"return document.getElementById('v-{name}').dataset.state || null")
                    if state in ("ready", "error"):
                        break
                    time.sleep(0.2)
                info = d.js(
                    f"const c = document.getElementById('v-{name}');"
                    "return {tris: c.dataset.triangles || null, text: c.textContent,"
                    f" canvas: !!c.querySelector('canvas'), button: document.getElementById('b-{name}').textContent}}"
                )
                took = time.time() - t0
                print(f"{name}: state={state} triangles={info['tris']} button={info['button']!r} "
                      f"message={info['text']!r} ({took:.1f}s)")
                if state != want_state:
                    failures.append(f"{name}: state {state}, wanted {want_state}")
                if want_tris is not None and info["tris"] != str(want_tris):
                    failures.append(f"{name}: triangles {info['tris']}, wanted {want_tris}")
                if want_state == "error" and (info["canvas"] or not info["text"]):
                    failures.append(f"{name}: error without a message, or with a canvas left")
                d.js(f"document.getElementById('v-{name}').scrollIntoView()")
                time.sleep(0.5)  # let a couple of frames through before the screenshot
                png = d.s("GET", f"/element/{d.find('#v-' + name)}/screenshot")
                path = os.path.join(shots, f"{name}.png")
                with open(path, "wb") as f:
                    f.write(base64.b64decode(png))
                print(f"  screenshot: {path}")

            # Drag on the STL view (orbit), then a second click closes it.
            canvas = d.js("return document.querySelector('#v-stl canvas') ? true : false")
            if canvas:
                r = d.js("const c = document.querySelector('#v-stl canvas'); c.scrollIntoView();"
                         "const r = c.getBoundingClientRect();"
                         "return [Math.round(r.x + r.width / 2), Math.round(r.y + r.height / 2)]")
                d.s("POST", "/actions", {"actions": [{
                    "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                    "actions": [
                        {"type": "pointerMove", "origin": "viewport", "x": r[0], "y": r[1]},
                        {"type": "pointerDown", "button": 0},
                        {"type": "pointerMove", "origin": "pointer", "x": 120, "y": 40, "duration": 300},
                        {"type": "pointerUp", "button": 0},
                    ]}]})
                time.sleep(1)
                d.js("document.getElementById('v-stl').scrollIntoView()")
                png = d.s("GET", f"/element/{d.find('#v-stl')}/screenshot")
                with open(os.path.join(shots, "stl-orbited.png"), "wb") as f:
                    f.write(base64.b64decode(png))
                print(f"  screenshot after orbit: {os.path.join(shots, 'stl-orbited.png')}")
            d.s("POST", f"/element/{d.find('#b-stl')}/click", {})
            time.sleep(0.3)
            closed = d.js(
                "const c = document.getElementById('v-stl');"
                "return {children: c.childElementCount, state: c.dataset.state || null,"
                " button: document.getElementById('b-stl').textContent}"
            )
            print("stl after second click:", closed)
            if closed["children"] or closed["state"] or not closed["button"].startswith("Open"):
                failures.append(f"close did not empty the view: {closed}")

            csp = d.js("return window.__csp")
            print("CSP violations:", csp)
            if csp:
                failures.append(f"CSP violations: {csp}")
            for entry in d.log():
                print("  browser log:", entry.get("level"), entry.get("message", "")[:300])
                if "Content Security Policy" in entry.get("message", ""):
                    failures.append("CSP message in the browser log")
        finally:
            d.quit()

        # Without WebGL the view says so instead of failing silently.
        d = WebDriver(driver_port, CHROME_FLAGS + ["--disable-webgl"])
        try:
            d.s("POST", "/url", {"url": site_url})
            d.s("POST", f"/element/{d.find('#b-stl')}/click", {})
            state, t0 = None, time.time()
            while state not in ("ready", "error") and time.time() - t0 < 30:
                time.sleep(0.2)
                state = d.js("return document.getElementById('v-stl').dataset.state || null")
            text = d.js("return document.getElementById('v-stl').textContent")
            print(f"no WebGL (--disable-webgl): state={state} message={text!r}")
            if state != "error" or "WebGL" not in text:
                failures.append(f"no WebGL: state {state}, message {text!r}")
        finally:
            d.quit()
    finally:
        chromedriver.terminate()
        server.shutdown()
    print("FAIL:\n  " + "\n  ".join(failures) if failures else "OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
