// communs 3D viewer: shows one model file (STL, 3MF or OBJ) in a container.
//
// Built by esbuild into ui/assets/viewer.js (see ../README.md). The page never
// loads it eagerly: ui.js imports it dynamically when the user asks for a 3D
// view, so a design page costs nothing until then.
//
// Contract with the page (ui.js relies on exactly this):
//   const viewer = await open(container, url, format);   // format: "stl" | "3mf" | "obj"
//   container.dataset.state: "loading" -> "ready" | "error"
//   container.dataset.triangles: triangle count, once ready
//   viewer.dispose(): stops rendering, frees GPU memory, empties the container
// open() never rejects: failures are shown in the container (state "error").
//
// CSP: nothing here needs 'unsafe-eval', 'unsafe-inline' or blob: workers.
// Styles are set through the CSSOM (element.style), which style-src 'self'
// allows; no HTML is ever built from data (textContent only).

import {
  AmbientLight,
  Box3,
  Color,
  DirectionalLight,
  DoubleSide,
  Mesh,
  MeshStandardMaterial,
  Object3D,
  PerspectiveCamera,
  Scene,
  Sphere,
  Vector3,
  WebGLRenderer,
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { STLLoader } from 'three/examples/jsm/loaders/STLLoader.js';
import { ThreeMFLoader } from 'three/examples/jsm/loaders/3MFLoader.js';
import { OBJLoader } from 'three/examples/jsm/loaders/OBJLoader.js';

const BACKGROUND = 0xf3f4f6;
const PART_COLOUR = 0x6f8fb0;

// Each loader's parse() takes the whole file and returns a BufferGeometry or an
// Object3D. STL and 3MF are Z-up by convention (CAD, slicers); OBJ is Y-up.
const FORMATS = {
  stl: { label: 'STL', zUp: true, parse: (buf) => new STLLoader().parse(buf) },
  '3mf': { label: '3MF', zUp: true, parse: (buf) => new ThreeMFLoader().parse(buf) },
  obj: {
    label: 'OBJ',
    zUp: false,
    parse: (buf) => new OBJLoader().parse(new TextDecoder().decode(buf)),
  },
};

export async function open(container, url, format) {
  const kind = FORMATS[String(format).toLowerCase()];
  const abort = new AbortController();
  let disposed = false;
  let teardown = () => {};

  const handle = {
    dispose() {
      if (disposed) return;
      disposed = true;
      abort.abort();
      teardown();
      container.replaceChildren();
      delete container.dataset.state;
      delete container.dataset.triangles;
    },
  };

  const fail = (message) => {
    teardown();
    teardown = () => {};
    const p = document.createElement('p');
    p.className = 'viewer-error';
    p.textContent = message;
    container.replaceChildren(p);
    container.dataset.state = 'error';
  };

  container.replaceChildren();
  container.dataset.state = 'loading';
  delete container.dataset.triangles;

  if (!kind) {
    fail(`Cannot show this file: unknown format "${format}".`);
    return handle;
  }

  // WebGL first: no point downloading a large file the browser cannot draw.
  let renderer;
  try {
    renderer = new WebGLRenderer({ antialias: true });
  } catch {
    fail('The 3D view needs WebGL, which this browser does not offer (or has turned off).');
    return handle;
  }
  teardown = () => {
    renderer.dispose();
    renderer.forceContextLoss();
  };

  let buffer;
  try {
    const response = await fetch(url, { credentials: 'same-origin', signal: abort.signal });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    buffer = await response.arrayBuffer();
  } catch (e) {
    if (!disposed) fail(`Could not download the model (${e.message || e}).`);
    return handle;
  }
  if (disposed) return handle;

  let model;
  try {
    model = toObject(kind.parse(buffer));
  } catch {
    model = null;
  }
  const material = new MeshStandardMaterial({
    color: PART_COLOUR,
    roughness: 0.55,
    metalness: 0.1,
    flatShading: true, // crisp edges on mechanical parts, whatever the file's normals
    side: DoubleSide, // many STL files have inconsistent winding
  });
  const geometries = [];
  let triangles = 0;
  model?.traverse((node) => {
    if (!node.isMesh) return;
    const g = node.geometry;
    if (!g.attributes.normal) g.computeVertexNormals();
    geometries.push(g);
    triangles += (g.index ? g.index.count : g.attributes.position.count) / 3;
    if (Array.isArray(node.material)) node.material.forEach((m) => m.dispose());
    else node.material?.dispose();
    node.material = material;
  });
  if (!model || triangles === 0) {
    geometries.forEach((g) => g.dispose());
    material.dispose();
    fail(`Could not read this ${kind.label} file.`);
    return handle;
  }

  // Center the part on the origin and frame the camera on its bounding sphere.
  const box = new Box3().setFromObject(model);
  const sphere = box.getBoundingSphere(new Sphere());
  const radius = sphere.radius > 0 ? sphere.radius : 1;
  model.position.sub(sphere.center);
  const pivot = new Object3D();
  pivot.add(model);

  const scene = new Scene();
  scene.background = new Color(BACKGROUND);
  scene.add(pivot);

  const camera = new PerspectiveCamera(40, 1, radius / 100, radius * 100);
  if (kind.zUp) camera.up.set(0, 0, 1);
  // Three-quarter view from the front right, slightly above.
  const view = kind.zUp ? new Vector3(1, -1.4, 0.9) : new Vector3(1, 0.9, 1.4);
  const distance = (radius / Math.sin((camera.fov * Math.PI) / 360)) * 1.05;
  camera.position.copy(view.normalize().multiplyScalar(distance));
  camera.lookAt(0, 0, 0);

  scene.add(new AmbientLight(0xffffff, 0.7));
  // A key light that follows the camera, from the upper left behind the
  // viewer, so the side the user looks at is always lit with visible relief,
  // plus a fixed weaker fill light from the opposite side.
  const key = new DirectionalLight(0xffffff, 2.6);
  key.position.set(-0.8, 1.2, 1).multiplyScalar(distance); // camera-local
  camera.add(key);
  scene.add(camera);
  const fill = new DirectionalLight(0xffffff, 0.6);
  fill.position.copy(view).multiplyScalar(-1);
  scene.add(fill);

  // OrbitControls reads camera.up when constructed, so this comes after up.set.
  const canvas = renderer.domElement;
  canvas.style.display = 'block'; // no inline baseline gap under the canvas
  canvas.style.touchAction = 'none';
  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = true;
  controls.enableZoom = true;
  controls.enablePan = true;
  controls.screenSpacePanning = true;
  controls.minDistance = radius * 0.05;
  controls.maxDistance = radius * 20;
  controls.target.set(0, 0, 0);
  controls.update();

  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  container.replaceChildren(canvas);

  let needsRender = true;
  const resize = () => {
    const width = container.clientWidth || 640;
    // A container without a CSS height still gets a usable view.
    const height = container.clientHeight || Math.round(width * 0.6);
    renderer.setSize(width, height);
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
    needsRender = true;
  };
  resize();
  const observer = new ResizeObserver(resize);
  observer.observe(container);
  controls.addEventListener('change', () => (needsRender = true));

  // Render on demand: the loop only draws when the view changed (damping keeps
  // update() reporting changes for a few frames after the user lets go).
  let frame = 0;
  const tick = () => {
    frame = requestAnimationFrame(tick);
    if (controls.update() || needsRender) {
      needsRender = false;
      renderer.render(scene, camera);
    }
  };

  teardown = () => {
    cancelAnimationFrame(frame);
    observer.disconnect();
    controls.dispose();
    geometries.forEach((g) => g.dispose());
    material.dispose();
    renderer.dispose();
    renderer.forceContextLoss();
  };

  try {
    renderer.render(scene, camera);
    needsRender = false;
  } catch (e) {
    fail('The 3D view could not be drawn.');
    return handle;
  }
  frame = requestAnimationFrame(tick);
  container.dataset.triangles = String(triangles);
  container.dataset.state = 'ready';
  return handle;
}

// STL gives a bare geometry, the others a tree of meshes.
function toObject(result) {
  if (!result) return null;
  if (result.isBufferGeometry) return new Mesh(result);
  if (result.isObject3D) return result;
  return null;
}
