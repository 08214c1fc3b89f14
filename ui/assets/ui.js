// communs page script: small, dependency-free, loaded by every page with
// <script type="module" src="/ui/assets/ui.js">. It lives in a file (not inline)
// because the pages are served with CSP script-src 'self'.
//
// 3D view buttons:
//   <button type="button" data-open-3d data-url="/files/part.stl"
//           data-format="stl" data-target="viewer-1">Open 3D view</button>
//   <div id="viewer-1" class="viewer"></div>   (its size comes from the CSS)
// The viewer (~600 KB) is imported only on the first click, so pages that are
// just read never download it.

for (const button of document.querySelectorAll('button[data-open-3d]')) {
  const label = button.textContent;
  let viewer = null; // the open viewer, or null when closed
  let busy = false; // ignore clicks while the viewer module or model loads

  button.addEventListener('click', async () => {
    if (busy) return;
    const target = document.getElementById(button.dataset.target);
    if (!target) return;

    if (viewer) {
      // Second click: close, free the GPU memory, restore the button.
      viewer.dispose();
      viewer = null;
      target.hidden = true;
      button.textContent = label;
      button.setAttribute('aria-expanded', 'false');
      return;
    }

    busy = true;
    button.disabled = true;
    target.hidden = false;
    try {
      // Dynamic import: the browser fetches viewer.js now, not on page load.
      const { open } = await import('/ui/assets/viewer.js');
      // open() shows its own errors in the target (data-state="error").
      viewer = await open(target, button.dataset.url, button.dataset.format);
      button.textContent = 'Close 3D view';
      button.setAttribute('aria-expanded', 'true');
    } catch {
      // Only the module itself failing to load lands here.
      const p = document.createElement('p');
      p.textContent = 'The 3D viewer could not be loaded.';
      target.replaceChildren(p);
      target.dataset.state = 'error';
    } finally {
      busy = false;
      button.disabled = false;
    }
  });
}
