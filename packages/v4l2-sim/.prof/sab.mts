const n = 3110400;
const a = new Uint8Array(new SharedArrayBuffer(n)); const b = new Uint8Array(new SharedArrayBuffer(n));
for (let i = 0; i < n; i++) a[i] = (i * 31) & 255;
b.set(a);
for (let i = 0; i < 500; i++) b.set(a);
const t0 = performance.now(); for (let i = 0; i < 2000; i++) b.set(a); console.log("sab copy us", (performance.now() - t0) * 1000 / 2000);
const c = new Uint8Array(n), d = new Uint8Array(n); c.set(a); d.set(c);
const t1 = performance.now(); for (let i = 0; i < 2000; i++) d.set(c); console.log("ab copy us", (performance.now() - t1) * 1000 / 2000);
