;; Gaussian smoothing's two passes with 128-bit SIMD (two float64 lanes), for core/kernels/gaussian.ts.
;; Assembled into gaussian-wasm.ts by `npx tsx infra/build-wasm.ts`; a unit test checks that file is up to date.
;;
;; Bit-identical to SciPy's float32 `gaussian_filter`, as the JavaScript loops were: every pixel's sum is
;; the same float64 operations in the same order (centre tap, then pairs from the outermost inwards) with
;; no fused multiply-add, and each pass rounds to float32. Lanes only run neighbouring pixels' independent
;; sums side by side. Pointers are byte offsets into the exported memory.
(module
  (memory (export "memory") 1)

  ;; Along axis 0. $src: ($rows + 2·$r) float32 rows of $width (the band with $r rows of context above and
  ;; below); $dst: $rows float32 rows. $w: the 2·$r + 1 float64 weights. Per pixel: centre · w[r], then
  ;; += (above_j + below_j) · w[r − j] for j = r … 1, in float64, rounded to float32 at the end.
  (func (export "columns") (param $src i32) (param $dst i32) (param $width i32) (param $rows i32) (param $w i32) (param $r i32)
    (local $y i32) (local $x i32) (local $j i32) (local $stride i32) (local $ctr i32) (local $up i32) (local $dn i32) (local $out i32)
    (local $c v128) (local $k v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $cs f64) (local $ks f64) (local $s f64)
    (local.set $stride (i32.shl (local.get $width) (i32.const 2)))
    (local.set $cs (f64.load (i32.add (local.get $w) (i32.shl (local.get $r) (i32.const 3)))))
    (local.set $c (f64x2.splat (local.get $cs)))
    (local.set $y (i32.const 0))
    (block $rowsDone (loop $rowLoop
      (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $rows)))
      (local.set $x (i32.const 0))
      ;; 8 pixels at a time: four independent float64x2 sums
      (block $stripsDone (loop $stripLoop
        (br_if $stripsDone (i32.gt_u (i32.add (local.get $x) (i32.const 8)) (local.get $width)))
        (local.set $ctr (i32.add (i32.add (local.get $src) (i32.mul (i32.add (local.get $y) (local.get $r)) (local.get $stride))) (i32.shl (local.get $x) (i32.const 2))))
        (local.set $a0 (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $ctr))) (local.get $c)))
        (local.set $a1 (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $ctr))) (local.get $c)))
        (local.set $a2 (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $ctr))) (local.get $c)))
        (local.set $a3 (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $ctr))) (local.get $c)))
        (local.set $j (local.get $r))
        (block $tapsDone (loop $tapLoop
          (br_if $tapsDone (i32.eqz (local.get $j)))
          (local.set $up (i32.sub (local.get $ctr) (i32.mul (local.get $j) (local.get $stride))))
          (local.set $dn (i32.add (local.get $ctr) (i32.mul (local.get $j) (local.get $stride))))
          (local.set $k (v128.load64_splat (i32.add (local.get $w) (i32.shl (i32.sub (local.get $r) (local.get $j)) (i32.const 3)))))
          (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $up))) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $dn)))) (local.get $k))))
          (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $up))) (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $dn)))) (local.get $k))))
          (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $up))) (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $dn)))) (local.get $k))))
          (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $up))) (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $dn)))) (local.get $k))))
          (local.set $j (i32.sub (local.get $j) (i32.const 1)))
          (br $tapLoop)))
        (local.set $out (i32.add (i32.add (local.get $dst) (i32.mul (local.get $y) (local.get $stride))) (i32.shl (local.get $x) (i32.const 2))))
        (v128.store64_lane 0 (local.get $out) (f32x4.demote_f64x2_zero (local.get $a0)))
        (v128.store64_lane offset=8 0 (local.get $out) (f32x4.demote_f64x2_zero (local.get $a1)))
        (v128.store64_lane offset=16 0 (local.get $out) (f32x4.demote_f64x2_zero (local.get $a2)))
        (v128.store64_lane offset=24 0 (local.get $out) (f32x4.demote_f64x2_zero (local.get $a3)))
        (local.set $x (i32.add (local.get $x) (i32.const 8)))
        (br $stripLoop)))
      ;; the last width mod 8 pixels one by one, the same operations in the same order
      (block $tailDone (loop $tailLoop
        (br_if $tailDone (i32.ge_u (local.get $x) (local.get $width)))
        (local.set $ctr (i32.add (i32.add (local.get $src) (i32.mul (i32.add (local.get $y) (local.get $r)) (local.get $stride))) (i32.shl (local.get $x) (i32.const 2))))
        (local.set $s (f64.mul (f64.promote_f32 (f32.load (local.get $ctr))) (local.get $cs)))
        (local.set $j (local.get $r))
        (block $tDone (loop $tLoop
          (br_if $tDone (i32.eqz (local.get $j)))
          (local.set $ks (f64.load (i32.add (local.get $w) (i32.shl (i32.sub (local.get $r) (local.get $j)) (i32.const 3)))))
          (local.set $s (f64.add (local.get $s) (f64.mul (f64.add
            (f64.promote_f32 (f32.load (i32.sub (local.get $ctr) (i32.mul (local.get $j) (local.get $stride)))))
            (f64.promote_f32 (f32.load (i32.add (local.get $ctr) (i32.mul (local.get $j) (local.get $stride)))))) (local.get $ks))))
          (local.set $j (i32.sub (local.get $j) (i32.const 1)))
          (br $tLoop)))
        (f32.store (i32.add (i32.add (local.get $dst) (i32.mul (local.get $y) (local.get $stride))) (i32.shl (local.get $x) (i32.const 2))) (f32.demote_f64 (local.get $s)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $tailLoop)))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br $rowLoop)))
  )

  ;; Along axis 1, in place over $rows float32 rows of $width at $buf. $line: room for $width + 2·$r
  ;; float64s; $ends: 2·$r int32 column indices, where line[0 … r) and line[r + width …) come from
  ;; (reflection). Per pixel the same order of operations as "columns".
  (func (export "rows") (param $buf i32) (param $width i32) (param $rows i32) (param $w i32) (param $r i32) (param $line i32) (param $ends i32)
    (local $y i32) (local $x i32) (local $j i32) (local $row i32) (local $p i32) (local $i i32)
    (local $c v128) (local $k v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $cs f64) (local $ks f64) (local $s f64)
    (local.set $cs (f64.load (i32.add (local.get $w) (i32.shl (local.get $r) (i32.const 3)))))
    (local.set $c (f64x2.splat (local.get $cs)))
    (local.set $y (i32.const 0))
    (block $rowsDone (loop $rowLoop
      (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $rows)))
      (local.set $row (i32.add (local.get $buf) (i32.mul (local.get $y) (i32.shl (local.get $width) (i32.const 2)))))
      ;; the padded line: reflected ends, then the row itself
      (local.set $i (i32.const 0))
      (block $endsDone (loop $endsLoop
        (br_if $endsDone (i32.ge_u (local.get $i) (local.get $r)))
        (f64.store (i32.add (local.get $line) (i32.shl (local.get $i) (i32.const 3)))
          (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (i32.load (i32.add (local.get $ends) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))))
        (f64.store (i32.add (local.get $line) (i32.shl (i32.add (i32.add (local.get $r) (local.get $width)) (local.get $i)) (i32.const 3)))
          (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (i32.load (i32.add (local.get $ends) (i32.shl (i32.add (local.get $r) (local.get $i)) (i32.const 2)))) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $endsLoop)))
      (local.set $i (i32.const 0))
      (block $midDone (loop $midLoop
        (br_if $midDone (i32.ge_u (local.get $i) (local.get $width)))
        (f64.store (i32.add (local.get $line) (i32.shl (i32.add (local.get $r) (local.get $i)) (i32.const 3)))
          (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $midLoop)))
      (local.set $x (i32.const 0))
      (block $stripsDone (loop $stripLoop
        (br_if $stripsDone (i32.gt_u (i32.add (local.get $x) (i32.const 8)) (local.get $width)))
        ;; $p: line[x + r], the centre of the strip's first pixel
        (local.set $p (i32.add (local.get $line) (i32.shl (i32.add (local.get $x) (local.get $r)) (i32.const 3))))
        (local.set $a0 (f64x2.mul (v128.load (local.get $p)) (local.get $c)))
        (local.set $a1 (f64x2.mul (v128.load offset=16 (local.get $p)) (local.get $c)))
        (local.set $a2 (f64x2.mul (v128.load offset=32 (local.get $p)) (local.get $c)))
        (local.set $a3 (f64x2.mul (v128.load offset=48 (local.get $p)) (local.get $c)))
        (local.set $j (local.get $r))
        (block $tapsDone (loop $tapLoop
          (br_if $tapsDone (i32.eqz (local.get $j)))
          (local.set $i (i32.shl (local.get $j) (i32.const 3)))
          (local.set $k (v128.load64_splat (i32.add (local.get $w) (i32.shl (i32.sub (local.get $r) (local.get $j)) (i32.const 3)))))
          (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (f64x2.add (v128.load (i32.sub (local.get $p) (local.get $i))) (v128.load (i32.add (local.get $p) (local.get $i)))) (local.get $k))))
          (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (f64x2.add (v128.load offset=16 (i32.sub (local.get $p) (local.get $i))) (v128.load offset=16 (i32.add (local.get $p) (local.get $i)))) (local.get $k))))
          (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (f64x2.add (v128.load offset=32 (i32.sub (local.get $p) (local.get $i))) (v128.load offset=32 (i32.add (local.get $p) (local.get $i)))) (local.get $k))))
          (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (f64x2.add (v128.load offset=48 (i32.sub (local.get $p) (local.get $i))) (v128.load offset=48 (i32.add (local.get $p) (local.get $i)))) (local.get $k))))
          (local.set $j (i32.sub (local.get $j) (i32.const 1)))
          (br $tapLoop)))
        (local.set $i (i32.add (local.get $row) (i32.shl (local.get $x) (i32.const 2))))
        (v128.store64_lane 0 (local.get $i) (f32x4.demote_f64x2_zero (local.get $a0)))
        (v128.store64_lane offset=8 0 (local.get $i) (f32x4.demote_f64x2_zero (local.get $a1)))
        (v128.store64_lane offset=16 0 (local.get $i) (f32x4.demote_f64x2_zero (local.get $a2)))
        (v128.store64_lane offset=24 0 (local.get $i) (f32x4.demote_f64x2_zero (local.get $a3)))
        (local.set $x (i32.add (local.get $x) (i32.const 8)))
        (br $stripLoop)))
      (block $tailDone (loop $tailLoop
        (br_if $tailDone (i32.ge_u (local.get $x) (local.get $width)))
        (local.set $p (i32.add (local.get $line) (i32.shl (i32.add (local.get $x) (local.get $r)) (i32.const 3))))
        (local.set $s (f64.mul (f64.load (local.get $p)) (local.get $cs)))
        (local.set $j (local.get $r))
        (block $tDone (loop $tLoop
          (br_if $tDone (i32.eqz (local.get $j)))
          (local.set $i (i32.shl (local.get $j) (i32.const 3)))
          (local.set $ks (f64.load (i32.add (local.get $w) (i32.shl (i32.sub (local.get $r) (local.get $j)) (i32.const 3)))))
          (local.set $s (f64.add (local.get $s) (f64.mul (f64.add (f64.load (i32.sub (local.get $p) (local.get $i))) (f64.load (i32.add (local.get $p) (local.get $i)))) (local.get $ks))))
          (local.set $j (i32.sub (local.get $j) (i32.const 1)))
          (br $tLoop)))
        (f32.store (i32.add (local.get $row) (i32.shl (local.get $x) (i32.const 2))) (f32.demote_f64 (local.get $s)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $tailLoop)))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br $rowLoop)))
  )
)
