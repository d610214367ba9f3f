;; NV12 -> packed RGB(A), BT.601 limited range, for Nv12Converter (nv12-converter.ts): the same
;; table-driven conversion as colour.ts's yuyvRowToRgb, compiled once instead of run through the JS
;; JIT's bounds-checked element accesses (about 2x faster at 1080p).
;; Rebuild the bytes embedded in nv12-converter.ts after an edit:
;;   npx --yes -p wabt@1.0.39 wat2wasm --enable-threads nv12-to-rgb.wat -o /tmp/nv12.wasm && base64 -w0 /tmp/nv12.wasm
(module
  ;; Tables at fixed addresses, filled by Nv12Converter: LUMA, CR_R, CB_B as i32[256], CLAMP as
  ;; u8[4096], CBCR_G as i32[65536]; frames from address 269312 on. Shared, so growing it never
  ;; moves a picture the JPEG library may still be reading.
  (memory (export "memory") 5 8192 shared)

  ;; nv12(y, uv, width, height, out, channels): luma rows of `width` bytes at `y`, chroma rows of
  ;; `width` rounded up to even at `uv`, output rows of width x channels (3 or 4) at `out`.
  (func (export "nv12") (param $y i32) (param $uv i32) (param $w i32) (param $h i32) (param $out i32) (param $ch i32)
    (local $row i32) (local $x i32) (local $y0 i32) (local $y1 i32) (local $c i32) (local $o0 i32) (local $o1 i32)
    (local $r i32) (local $g i32) (local $b i32) (local $cb i32) (local $cr i32) (local $l i32) (local $alpha i32)
    (local $cw i32) (local $ow i32)
    (local.set $alpha (i32.eq (local.get $ch) (i32.const 4)))
    (local.set $cw (i32.and (i32.add (local.get $w) (i32.const 1)) (i32.const -2)))
    (local.set $ow (i32.mul (local.get $w) (local.get $ch)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $h)))
        ;; Two luma rows share a chroma row; the last row of an odd height is converted alone.
        (local.set $y0 (i32.add (local.get $y) (i32.mul (local.get $row) (local.get $w))))
        (local.set $o0 (i32.add (local.get $out) (i32.mul (local.get $row) (local.get $ow))))
        (local.set $y1 (local.get $y0))
        (local.set $o1 (local.get $o0))
        (if (i32.lt_u (i32.add (local.get $row) (i32.const 1)) (local.get $h)) (then
          (local.set $y1 (i32.add (local.get $y0) (local.get $w)))
          (local.set $o1 (i32.add (local.get $o0) (local.get $ow)))))
        (local.set $c (i32.add (local.get $uv) (i32.mul (i32.shr_u (local.get $row) (i32.const 1)) (local.get $cw))))
        (local.set $x (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $x) (local.get $w)))
            (local.set $cb (i32.load8_u (i32.add (local.get $c) (local.get $x))))
            (local.set $cr (i32.load8_u offset=1 (i32.add (local.get $c) (local.get $x))))
            (local.set $r (i32.load offset=1024 (i32.shl (local.get $cr) (i32.const 2))))
            (local.set $b (i32.load offset=2048 (i32.shl (local.get $cb) (i32.const 2))))
            (local.set $g (i32.load offset=7168 (i32.shl (i32.or (i32.shl (local.get $cb) (i32.const 8)) (local.get $cr)) (i32.const 2))))
            ;; Pixel x of both rows: LUMA[y], then CLAMP[luma + chroma term] per channel (inlined: V8 does not inline wasm calls).
            (local.set $l (i32.load (i32.shl (i32.load8_u (i32.add (local.get $y0) (local.get $x))) (i32.const 2))))
            (i32.store8 (local.get $o0) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $r))))
            (i32.store8 offset=1 (local.get $o0) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $g))))
            (i32.store8 offset=2 (local.get $o0) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $b))))
            (if (local.get $alpha) (then (i32.store8 offset=3 (local.get $o0) (i32.const 255))))
            (local.set $l (i32.load (i32.shl (i32.load8_u (i32.add (local.get $y1) (local.get $x))) (i32.const 2))))
            (i32.store8 (local.get $o1) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $r))))
            (i32.store8 offset=1 (local.get $o1) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $g))))
            (i32.store8 offset=2 (local.get $o1) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $b))))
            (if (local.get $alpha) (then (i32.store8 offset=3 (local.get $o1) (i32.const 255))))
            ;; An odd width's last chroma pair covers one pixel.
            (if (i32.lt_u (i32.add (local.get $x) (i32.const 1)) (local.get $w)) (then
              ;; Pixel x + 1 of both rows.
              (local.set $l (i32.load (i32.shl (i32.load8_u (i32.add (local.get $y0) (i32.add (local.get $x) (i32.const 1)))) (i32.const 2))))
              (i32.store8 (i32.add (local.get $o0) (local.get $ch)) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $r))))
              (i32.store8 offset=1 (i32.add (local.get $o0) (local.get $ch)) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $g))))
              (i32.store8 offset=2 (i32.add (local.get $o0) (local.get $ch)) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $b))))
              (if (local.get $alpha) (then (i32.store8 offset=3 (i32.add (local.get $o0) (local.get $ch)) (i32.const 255))))
              (local.set $l (i32.load (i32.shl (i32.load8_u (i32.add (local.get $y1) (i32.add (local.get $x) (i32.const 1)))) (i32.const 2))))
              (i32.store8 (i32.add (local.get $o1) (local.get $ch)) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $r))))
              (i32.store8 offset=1 (i32.add (local.get $o1) (local.get $ch)) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $g))))
              (i32.store8 offset=2 (i32.add (local.get $o1) (local.get $ch)) (i32.load8_u offset=3072 (i32.add (local.get $l) (local.get $b))))
              (if (local.get $alpha) (then (i32.store8 offset=3 (i32.add (local.get $o1) (local.get $ch)) (i32.const 255))))))
            (local.set $o0 (i32.add (local.get $o0) (i32.shl (local.get $ch) (i32.const 1))))
            (local.set $o1 (i32.add (local.get $o1) (i32.shl (local.get $ch) (i32.const 1))))
            (local.set $x (i32.add (local.get $x) (i32.const 2)))
            (br $cols)))
        (local.set $row (i32.add (local.get $row) (i32.const 2)))
        (br $rows))))
)
