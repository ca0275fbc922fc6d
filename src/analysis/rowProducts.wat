;; A·Bᵀ in float64 with 128-bit SIMD, for the analysis's products (rowProducts.ts,
;; docs/MEASUREMENTS.md §4): A [rows, dim] and B [inner, dim] row-major, so every
;; output is the dot product of two contiguous rows, C [rows, inner] row-major.
;;
;; Two rows of A meet four rows of B per pass over dim: 8 accumulators of two
;; lanes (the even and the odd terms of each dot product, added at the end), 6
;; loads per 16 multiply-adds. The caller pads: rows to a multiple of 2, inner
;; to a multiple of 4, dim to a multiple of 2, with zeros, which add nothing.
;; All addresses are byte offsets into the exported memory.
(module
  (memory (export "memory") 1)
  (func (export "rowsTimesRows")
    (param $a i32) (param $b i32) (param $c i32) (param $rows i32) (param $inner i32) (param $dim i32)
    (local $r i32) (local $j i32) (local $k i32) (local $rowBytes i32) (local $out i32)
    (local $pa0 i32) (local $pa1 i32) (local $pb0 i32) (local $pb1 i32) (local $pb2 i32) (local $pb3 i32)
    (local $x0 v128) (local $x1 v128) (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)
    (local $s00 v128) (local $s01 v128) (local $s02 v128) (local $s03 v128)
    (local $s10 v128) (local $s11 v128) (local $s12 v128) (local $s13 v128)
    (local.set $rowBytes (i32.shl (local.get $dim) (i32.const 3)))
    (block $rowsDone (loop $rowPairs
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $pa0 (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $pa1 (i32.add (local.get $pa0) (local.get $rowBytes)))
      (local.set $j (i32.const 0))
      (block $columnsDone (loop $columnQuads
        (br_if $columnsDone (i32.ge_u (local.get $j) (local.get $inner)))
        (local.set $pb0 (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $rowBytes))))
        (local.set $pb1 (i32.add (local.get $pb0) (local.get $rowBytes)))
        (local.set $pb2 (i32.add (local.get $pb1) (local.get $rowBytes)))
        (local.set $pb3 (i32.add (local.get $pb2) (local.get $rowBytes)))
        (local.set $s00 (v128.const i64x2 0 0)) (local.set $s01 (v128.const i64x2 0 0))
        (local.set $s02 (v128.const i64x2 0 0)) (local.set $s03 (v128.const i64x2 0 0))
        (local.set $s10 (v128.const i64x2 0 0)) (local.set $s11 (v128.const i64x2 0 0))
        (local.set $s12 (v128.const i64x2 0 0)) (local.set $s13 (v128.const i64x2 0 0))
        (local.set $k (i32.const 0))
        (block $dotsDone (loop $termPairs
          (br_if $dotsDone (i32.ge_u (local.get $k) (local.get $rowBytes)))
          (local.set $x0 (v128.load (i32.add (local.get $pa0) (local.get $k))))
          (local.set $x1 (v128.load (i32.add (local.get $pa1) (local.get $k))))
          (local.set $y0 (v128.load (i32.add (local.get $pb0) (local.get $k))))
          (local.set $y1 (v128.load (i32.add (local.get $pb1) (local.get $k))))
          (local.set $y2 (v128.load (i32.add (local.get $pb2) (local.get $k))))
          (local.set $y3 (v128.load (i32.add (local.get $pb3) (local.get $k))))
          (local.set $s00 (f64x2.add (local.get $s00) (f64x2.mul (local.get $x0) (local.get $y0))))
          (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $x0) (local.get $y1))))
          (local.set $s02 (f64x2.add (local.get $s02) (f64x2.mul (local.get $x0) (local.get $y2))))
          (local.set $s03 (f64x2.add (local.get $s03) (f64x2.mul (local.get $x0) (local.get $y3))))
          (local.set $s10 (f64x2.add (local.get $s10) (f64x2.mul (local.get $x1) (local.get $y0))))
          (local.set $s11 (f64x2.add (local.get $s11) (f64x2.mul (local.get $x1) (local.get $y1))))
          (local.set $s12 (f64x2.add (local.get $s12) (f64x2.mul (local.get $x1) (local.get $y2))))
          (local.set $s13 (f64x2.add (local.get $s13) (f64x2.mul (local.get $x1) (local.get $y3))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br $termPairs)))
        (local.set $out (i32.add (local.get $c)
          (i32.shl (i32.add (i32.mul (local.get $r) (local.get $inner)) (local.get $j)) (i32.const 3))))
        (f64.store offset=0 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $s00)) (f64x2.extract_lane 1 (local.get $s00))))
        (f64.store offset=8 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $s01)) (f64x2.extract_lane 1 (local.get $s01))))
        (f64.store offset=16 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $s02)) (f64x2.extract_lane 1 (local.get $s02))))
        (f64.store offset=24 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $s03)) (f64x2.extract_lane 1 (local.get $s03))))
        (local.set $out (i32.add (local.get $out) (i32.shl (local.get $inner) (i32.const 3))))
        (f64.store offset=0 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $s10)) (f64x2.extract_lane 1 (local.get $s10))))
        (f64.store offset=8 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $s11)) (f64x2.extract_lane 1 (local.get $s11))))
        (f64.store offset=16 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $s12)) (f64x2.extract_lane 1 (local.get $s12))))
        (f64.store offset=24 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $s13)) (f64x2.extract_lane 1 (local.get $s13))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $columnQuads)))
      (local.set $r (i32.add (local.get $r) (i32.const 2)))
      (br $rowPairs)))))
