import "reflect-metadata";
import { Kernel } from "@dmabuf/core";
const k = await Kernel.boot({ board: { memory: { size: "64M" }, devices: [] } });
k.trace.on = false;
k.vfs.create("/dev/null0", { name: "null", ioctl: () => 0 });
const p = k.spawn("x");
const fd = p.open("/dev/null0");
for (let i = 0; i < 200000; i++) { await p.ioctl(fd, 1, {}); await p.ioctl(fd, 2, {}); }
const N = 1000000;
const t0 = performance.now();
for (let i = 0; i < N; i++) { await p.ioctl(fd, 1, {}); await p.ioctl(fd, 2, {}); }
console.log("2 ioctls us", ((performance.now() - t0) * 1000) / N);
