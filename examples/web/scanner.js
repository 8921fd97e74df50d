// The web scanner's page logic: it starts the WebAssembly verifier, loads
// the issuer's directory once (from the issuer's well-known URLs or from
// files), then locks the page against any further request and verifies
// every code the camera sees, showing a full-screen verdict.
//
// window.statustoken exposes the page's state to whoever drives it (an
// operator's console, the browser test): state, loadedAt, decoder, info,
// history, benchmark(texts) and checkText(text).
'use strict';

(() => {
  const HOLD_MS = 6000; // a verdict stays up this long unless tapped or replaced
  const GONE_MS = 800; // a code counts as shown again after leaving the view this long
  const SCAN_EVERY_MS = 100; // pause between two detections
  const TRUST_KEY = 'statustoken-trust';
  const ISSUER_KEY = 'statustoken-issuer';
  const WELL_KNOWN = '/.well-known/statustoken-directory';

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const api = {
    state: 'starting', // starting, setup, ready, failed
    loadedAt: 0, // Date.now() when the directory was loaded; no request after it
    decoder: '', // "native" (BarcodeDetector) or "zxing-wasm" (the npm fallback)
    info: null, // the loaded directory, as the verifier describes it
    history: [], // the verdicts of this session, newest last (kept in memory only)
    benchmark,
    checkText,
  };
  window.statustoken = api;

  let W = null; // the WebAssembly module's API
  let detector = null;
  let hideTimer = 0;
  const inView = new Map(); // code text -> when the camera last saw it

  function setState(s) {
    api.state = s;
    document.body.dataset.state = s;
  }

  function setupError(msg) {
    $('setup-error').textContent = msg;
  }

  // --- start-up -----------------------------------------------------------

  async function start() {
    try {
      $('setup-status').textContent = 'Starting the verifier…';
      await startWasm();
      $('setup-status').textContent = 'Preparing the QR decoder…';
      await startDetector();
    } catch (e) {
      setState('failed');
      $('setup-status').textContent = 'The scanner cannot start.';
      setupError(String(e && e.message ? e.message : e));
      return;
    }
    setState('setup');
    showSetup();
    if (trustText() !== null || W.pinned) {
      const issuer = issuerURL();
      if (issuer !== null) await loadFromIssuer(issuer);
    }
  }

  async function startWasm() {
    if (typeof Go !== 'function') throw new Error('dist/wasm_exec.js did not load: build the scanner first.');
    const go = new Go();
    const resp = fetch('dist/scanner.wasm');
    let inst;
    try {
      inst = await WebAssembly.instantiateStreaming(resp, go.importObject);
    } catch (e) {
      // A server that sends the module without application/wasm.
      const r = await fetch('dist/scanner.wasm');
      if (!r.ok) throw new Error('dist/scanner.wasm: HTTP ' + r.status);
      inst = await WebAssembly.instantiate(await r.arrayBuffer(), go.importObject);
    }
    go.run(inst.instance); // runs main until it blocks, which sets statustokenWasm
    W = window.statustokenWasm;
    if (!W) throw new Error('the verifier module did not start');
  }

  // startDetector uses the browser's BarcodeDetector when it reads QR codes,
  // and otherwise the barcode-detector package's ponyfill (ZXing compiled to
  // WebAssembly), whose module is fetched now, from this server: nothing may
  // be fetched once the directory is loaded.
  async function startDetector() {
    if ('BarcodeDetector' in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes('qr_code')) {
          detector = new window.BarcodeDetector({ formats: ['qr_code'] });
          api.decoder = 'native';
          return;
        }
      } catch (e) { /* fall back */ }
    }
    const lib = window.BarcodeDetectionAPI;
    if (!lib) throw new Error('No QR decoder: this browser has no BarcodeDetector, and node_modules/barcode-detector is not served (run npm ci).');
    await lib.prepareZXingModule({
      overrides: {
        locateFile: (path, prefix) => path.endsWith('.wasm')
          ? new URL('node_modules/zxing-wasm/dist/reader/' + path, location.href).href
          : prefix + path,
      },
      fireImmediately: true,
    });
    detector = new lib.BarcodeDetector({ formats: ['qr_code'] });
    api.decoder = 'zxing-wasm';
  }

  // --- trust policy and directory -----------------------------------------

  function trustText() {
    try { return localStorage.getItem(TRUST_KEY); } catch (e) { return null; }
  }

  // issuerURL is where to fetch the directory from: ?issuer=, else the
  // address the operator used last, else this page's own origin.
  function issuerURL() {
    const p = params.get('issuer');
    if (p) return p;
    try {
      const s = localStorage.getItem(ISSUER_KEY);
      if (s) return s;
    } catch (e) { /* private mode */ }
    return location.origin;
  }

  function showSetup() {
    $('setup').hidden = false;
    $('scan').hidden = true;
    const stored = trustText();
    if (W.pinned) {
      $('trust-pinned').hidden = false;
      $('trust-pinned').textContent = 'Trust policy: built into this scanner.';
    } else if (stored !== null) {
      $('trust-pinned').hidden = false;
      $('trust-pinned').textContent = 'Trust policy: the one given on this device earlier.';
      $('forget-trust').hidden = false;
    } else {
      $('trust-box').hidden = false;
      $('dir-heading').textContent = '2. Directory';
    }
    $('dir-box').hidden = false;
    $('issuer').value = issuerURL() || '';
    $('setup-status').textContent = 'Load the issuer\'s directory to start scanning.';
  }

  async function bytesOf(url) {
    const r = await fetch(url, { cache: 'no-store', credentials: 'omit' });
    if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
    return new Uint8Array(await r.arrayBuffer());
  }

  // loadFromIssuer fetches the directory with the signature and proof in
  // its headers, or from the .sig and .proof URLs when the headers are
  // missing (or not exposed to this page by CORS).
  async function loadFromIssuer(base) {
    setupError('');
    let url;
    try {
      url = new URL(WELL_KNOWN, base).href;
    } catch (e) {
      setupError('Not an address: ' + base);
      return;
    }
    $('setup-status').textContent = 'Loading the directory from ' + new URL(url).origin + '…';
    let dir, sig, proof;
    try {
      const r = await fetch(url, { cache: 'no-store', credentials: 'omit' });
      if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
      dir = new Uint8Array(await r.arrayBuffer());
      sig = W.decodeHeader(r.headers.get('Statustoken-Directory-Signature') || '');
      proof = W.decodeHeader(r.headers.get('Statustoken-Directory-Proof') || '');
      if (!sig) sig = await bytesOf(url + '.sig');
      if (!proof) proof = await bytesOf(url + '.proof');
    } catch (e) {
      $('setup-status').textContent = 'Load the issuer\'s directory to start scanning.';
      setupError('Could not fetch the directory: ' + (e && e.message ? e.message : e));
      return;
    }
    if (load(dir, sig, proof, null)) {
      try { localStorage.setItem(ISSUER_KEY, base); } catch (e) { /* private mode */ }
    }
  }

  async function loadFromFiles(list) {
    setupError('');
    const got = {};
    for (const f of list) {
      const c = W.classify(new Uint8Array(await f.arrayBuffer()));
      if (c.kind === 'unknown') {
        setupError(f.name + ' is neither a directory, a signature, a proof nor a trust policy.');
        return;
      }
      got[c.kind] = c.bytes;
    }
    for (const k of ['directory', 'signature', 'proof']) {
      if (!got[k]) {
        setupError('Missing the ' + k + ': choose the directory, its .sig and its .proof together.');
        return;
      }
    }
    const trust = got.trust ? new TextDecoder().decode(got.trust) : null;
    load(got.directory, got.signature, got.proof, trust);
  }

  // load hands the directory to the verifier, under the pinned trust
  // policy: the one built in, else the one kept on this device, else the
  // one just given (kept once it has loaded a directory).
  function load(dir, sig, proof, givenTrust) {
    let trust = null;
    if (!W.pinned) {
      trust = trustText() || givenTrust || $('trust-text').value.trim();
      if (!trust) {
        setupError('Give the trust policy first (step 1).');
        return false;
      }
    }
    const res = W.load(dir, sig, proof, trust);
    if (!res.ok) {
      $('setup-status').textContent = 'The directory was refused.';
      setupError(res.error);
      return false;
    }
    if (!W.pinned && trustText() === null) {
      try { localStorage.setItem(TRUST_KEY, trust); } catch (e) { /* private mode: kept for this page only */ }
    }
    lockNetwork();
    api.info = res.info;
    api.loadedAt = Date.now();
    setState('ready');
    startScanning();
    return true;
  }

  // lockNetwork adds a content security policy that forbids every kind of
  // request from now on. Policies only add up: none can lift this one.
  function lockNetwork() {
    const m = document.createElement('meta');
    m.httpEquiv = 'Content-Security-Policy';
    m.content = "default-src 'none'; style-src 'unsafe-inline'; img-src data: blob:; media-src blob: mediastream:";
    document.head.appendChild(m);
  }

  // --- scanning -----------------------------------------------------------

  // Every time on the page is on the 24-hour clock, as the scanner's own
  // messages (internal/scan) write them, whatever the browser's locale.
  function fmtTime(ms) {
    return new Date(ms).toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }

  function fmtClock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  }

  async function startScanning() {
    $('setup').hidden = true;
    $('scan').hidden = false;
    const i = api.info;
    $('offline').textContent = 'Offline since ' + fmtClock(api.loadedAt) +
      ': directory #' + i.serial + ', keys valid ' + fmtTime(i.from) + ' to ' + fmtTime(i.to) +
      '. No request leaves this page.';
    if (i.clockWarning) $('hint').textContent = i.clockWarning;
    const video = $('video');
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
      await video.play();
    } catch (e) {
      $('hint').textContent = 'No camera (' + (e && e.name ? e.name : e) + '): use "Scan a picture".';
      return;
    }
    if (!i.clockWarning) $('hint').textContent = 'Point the camera at a code';
    // Keep the screen on while scanning, where the browser allows it.
    try { await navigator.wakeLock.request('screen'); } catch (e) { /* not offered: the screen may dim */ }
    detectLoop();
  }

  async function detectLoop() {
    const video = $('video');
    if (video.readyState >= 2 && video.videoWidth > 0) {
      let codes = [];
      try {
        codes = await detector.detect(video);
      } catch (e) { /* a frame that cannot be read: try the next */ }
      seen(codes.map((c) => c.rawValue).filter((t) => t), performance.now());
    }
    setTimeout(detectLoop, SCAN_EVERY_MS);
  }

  // seen checks every code that has come into view. A code that stays in
  // view is checked once; one that leaves and comes back is checked again
  // (and is then refused as already used).
  function seen(texts, now) {
    for (const [t, at] of inView) {
      if (!texts.includes(t) && now - at > GONE_MS) inView.delete(t);
    }
    for (const t of texts) {
      const known = inView.has(t);
      inView.set(t, now);
      if (!known) checkText(t, 'camera');
    }
  }

  function checkText(text, source) {
    const v = W.check(text);
    api.history.push({ n: api.history.length + 1, at: Date.now(), source: source || 'api', text, ...v });
    if (api.history.length > 100) api.history.splice(0, api.history.length - 100);
    show(v);
    return v;
  }

  function show(v) {
    const el = $('verdict');
    el.className = v.color;
    el.dataset.color = v.color;
    el.dataset.code = v.code;
    el.dataset.expiry = v.expiry ? String(v.expiry / 1000) : '';
    $('v-icon').textContent = v.color === 'green' ? '✓' : v.color === 'amber' ? '!' : '✕';
    $('v-title').textContent = v.title;
    $('v-status').textContent = v.color === 'green' ? v.status : '';
    $('v-expiry').textContent = v.color === 'green' ? 'Valid until ' + fmtTime(v.expiry) : '';
    $('v-reason').textContent = v.color === 'green' ? 'Checked on this device. This code is now used.' : v.reason;
    el.hidden = false;
    clearTimeout(hideTimer);
    hideTimer = setTimeout(hideVerdict, HOLD_MS);
  }

  function hideVerdict() {
    clearTimeout(hideTimer);
    $('verdict').hidden = true;
  }

  async function scanPicture(file) {
    $('hint').textContent = 'Reading the picture…';
    try {
      if (file.type.startsWith('text/') || file.name.endsWith('.txt')) {
        // A token's text form holds no line break: drop only the file's last one.
        checkText((await file.text()).replace(/\r?\n$/, ''), 'file');
      } else {
        const codes = await detector.detect(await createImageBitmap(file));
        if (codes.length === 0) {
          $('hint').textContent = 'No QR code found in the picture.';
          return;
        }
        checkText(codes[0].rawValue, 'file');
      }
      $('hint').textContent = 'Point the camera at a code';
    } catch (e) {
      $('hint').textContent = 'Could not read the picture: ' + (e && e.message ? e.message : e);
    }
  }

  // benchmark times the verifier alone: texts are decoded once, then the
  // module verifies all of them in a loop (without the session's replay
  // memory), with more rounds until the loop takes at least minMs. It
  // returns the time per token in microseconds. It blocks the page while
  // it runs.
  function benchmark(texts, minMs) {
    minMs = minMs || 1000;
    const p = W.benchPrepare(texts);
    if (!p.ok) throw new Error(p.error);
    W.benchRun(1); // warm up
    let rounds = 1;
    for (;;) {
      const t0 = performance.now();
      const ok = W.benchRun(rounds);
      const ms = performance.now() - t0;
      if (ok !== rounds * p.n) throw new Error('benchmark: ' + (rounds * p.n - ok) + ' tokens did not verify');
      if (ms >= minMs || rounds >= 1 << 20) {
        return { n: p.n, rounds, ms, perTokenUs: (ms * 1000) / (rounds * p.n) };
      }
      rounds = Math.max(rounds * 2, Math.ceil(rounds * (minMs * 1.2) / Math.max(ms, 1)));
    }
  }

  // --- wiring -------------------------------------------------------------

  $('verdict').addEventListener('click', hideVerdict);
  $('load-url').addEventListener('click', () => loadFromIssuer($('issuer').value.trim()));
  $('dir-files').addEventListener('change', (e) => loadFromFiles(e.target.files));
  $('picture').addEventListener('change', (e) => {
    if (e.target.files.length > 0) scanPicture(e.target.files[0]);
    e.target.value = '';
  });
  $('forget-trust').addEventListener('click', () => {
    try { localStorage.removeItem(TRUST_KEY); } catch (e) { /* nothing kept */ }
    location.reload();
  });
  start();
})();
