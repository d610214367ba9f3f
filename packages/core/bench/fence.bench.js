"use strict";
var __awaiter = (this && this.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
var __generator = (this && this.__generator) || function (thisArg, body) {
    var _ = { label: 0, sent: function() { if (t[0] & 1) throw t[1]; return t[1]; }, trys: [], ops: [] }, f, y, t, g = Object.create((typeof Iterator === "function" ? Iterator : Object).prototype);
    return g.next = verb(0), g["throw"] = verb(1), g["return"] = verb(2), typeof Symbol === "function" && (g[Symbol.iterator] = function() { return this; }), g;
    function verb(n) { return function (v) { return step([n, v]); }; }
    function step(op) {
        if (f) throw new TypeError("Generator is already executing.");
        while (g && (g = 0, op[0] && (_ = 0)), _) try {
            if (f = 1, y && (t = op[0] & 2 ? y["return"] : op[0] ? y["throw"] || ((t = y["return"]) && t.call(y), 0) : y.next) && !(t = t.call(y, op[1])).done) return t;
            if (y = 0, t) op = [op[0] & 2, t.value];
            switch (op[0]) {
                case 0: case 1: t = op; break;
                case 4: _.label++; return { value: op[1], done: false };
                case 5: _.label++; y = op[1]; op = [0]; continue;
                case 7: op = _.ops.pop(); _.trys.pop(); continue;
                default:
                    if (!(t = _.trys, t = t.length > 0 && t[t.length - 1]) && (op[0] === 6 || op[0] === 2)) { _ = 0; continue; }
                    if (op[0] === 3 && (!t || (op[1] > t[0] && op[1] < t[3]))) { _.label = op[1]; break; }
                    if (op[0] === 6 && _.label < t[1]) { _.label = t[1]; t = op; break; }
                    if (t && _.label < t[2]) { _.label = t[2]; _.ops.push(op); break; }
                    if (t[2]) _.ops.pop();
                    _.trys.pop(); continue;
            }
            op = body.call(thisArg, _);
        } catch (e) { op = [6, e]; y = 0; } finally { f = t = 0; }
        if (op[0] & 5) throw op[1]; return { value: op[0] ? op[1] : void 0, done: true };
    }
};
var _a;
Object.defineProperty(exports, "__esModule", { value: true });
var bench_1 = require("@dmabuf/tooling/bench");
var core_1 = require("@dmabuf/core");
var ops = { getDriverName: function () { return "bench"; }, getTimelineName: function () { return "ring0"; } };
/** A kernel with tracing off (as in production: tracepoints cost nothing until enabled) and one timeline. */
function timeline(tracing) {
    return __awaiter(this, void 0, void 0, function () {
        var kernel;
        return __generator(this, function (_a) {
            switch (_a.label) {
                case 0: return [4 /*yield*/, core_1.Kernel.boot()];
                case 1:
                    kernel = _a.sent();
                    kernel.trace.on = tracing;
                    return [2 /*return*/, { kernel: kernel, context: (0, core_1.dmaFenceContextAlloc)(kernel, 1), seqno: 0, fired: 0, cb: {} }];
            }
        });
    });
}
/** One job's fence: dma_fence_init, a waiter's add_callback, the completion interrupt's signal, the last put. */
var signalToCallback = function (s) {
    var f = new core_1.DmaFence(s.kernel, ops, s.context, ++s.seqno);
    f.addCallback(s.cb, function () { return void s.fired++; });
    f.signal();
    f.put();
};
/**
 * A buffer with `n` readers (n pending READ fences of n contexts). Each call is one new job on one
 * of those contexts: lock, reserve, add its fence (replacing that context's older one), unlock,
 * then the "may I read?" query every importer makes (test_signaled(WRITE), which walks all n).
 */
function resvWithReaders(n) {
    return __awaiter(this, void 0, void 0, function () {
        var kernel, resv, base, i, f;
        return __generator(this, function (_a) {
            switch (_a.label) {
                case 0: return [4 /*yield*/, core_1.Kernel.boot()];
                case 1:
                    kernel = _a.sent();
                    kernel.trace.on = false;
                    resv = new core_1.DmaResv(kernel);
                    base = (0, core_1.dmaFenceContextAlloc)(kernel, n);
                    resv.trylock();
                    resv.reserveFences(n);
                    for (i = 0; i < n; i++) {
                        f = new core_1.DmaFence(kernel, ops, base + i, 1);
                        resv.addFence(f, core_1.DMA_RESV_USAGE_READ);
                        f.put();
                    }
                    resv.unlock();
                    return [2 /*return*/, { kernel: kernel, resv: resv, base: base, n: n, i: 0, seqno: 1 }];
            }
        });
    });
}
var addAndTest = function (s) {
    var ctx = s.base + (s.i++ % s.n);
    if (ctx === s.base)
        s.seqno++;
    var f = new core_1.DmaFence(s.kernel, ops, ctx, s.seqno);
    s.resv.trylock();
    s.resv.reserveFences(1);
    s.resv.addFence(f, core_1.DMA_RESV_USAGE_READ);
    s.resv.unlock();
    f.put();
    if (!s.resv.testSignaled(core_1.DMA_RESV_USAGE_WRITE))
        throw new Error("readers must not block readers");
};
var done = function (s) { return s.kernel.shutdown(); };
var SIGNAL = "fence init+add_callback+signal+put";
var SIGNAL_TRACED = "same, with dma_fence tracepoints on";
var R1 = "resv add+test, 1 fence";
var R16 = "resv add+test, 16 fences";
var R256 = "resv add+test, 256 fences";
exports.default = (0, bench_1.defineSuite)({
    name: "core-fence",
    cases: (_a = {},
        _a[SIGNAL] = { setup: function () { return timeline(false); }, fn: signalToCallback, teardown: done, baseline: true },
        _a[SIGNAL_TRACED] = { setup: function () { return timeline(true); }, fn: signalToCallback, afterSample: function (s) { return s.kernel.trace.clear(); }, teardown: done },
        _a[R1] = { setup: function () { return resvWithReaders(1); }, fn: addAndTest, teardown: done },
        _a[R16] = { setup: function () { return resvWithReaders(16); }, fn: addAndTest, teardown: done },
        _a[R256] = { setup: function () { return resvWithReaders(256); }, fn: addAndTest, teardown: done },
        _a),
    goals: [
        (0, bench_1.atLeast)("fence signal-to-callback throughput", function (m) { return 1e9 / m[SIGNAL]; }, 1000000, "signals/s"),
        (0, bench_1.below)("resv add+test grows at most linearly: 256 fences vs 16", function (m) { return m[R256] / m[R16]; }, 16, "×", "add scans for the context's slot and test walks every fence (dma_resv_test_signaled), both O(n) as in Linux"),
    ],
});
