(module
  (memory (export "memory") 1)
  (func (export "mask") (param $len i32) (param $key i32)
    (local $i i32) (local $k v128) (local $end64 i32)
    (local.set $k (i32x4.splat (local.get $key)))
    (local.set $end64 (i32.and (local.get $len) (i32.const -64)))
    (block $done64
      (loop $loop64
        (br_if $done64 (i32.ge_u (local.get $i) (local.get $end64)))
        (v128.store offset=0 (local.get $i) (v128.xor (v128.load offset=0 (local.get $i)) (local.get $k)))
        (v128.store offset=16 (local.get $i) (v128.xor (v128.load offset=16 (local.get $i)) (local.get $k)))
        (v128.store offset=32 (local.get $i) (v128.xor (v128.load offset=32 (local.get $i)) (local.get $k)))
        (v128.store offset=48 (local.get $i) (v128.xor (v128.load offset=48 (local.get $i)) (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $loop64)))
    (block $done16
      (loop $loop16
        (br_if $done16 (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $len)))
        (v128.store (local.get $i) (v128.xor (v128.load (local.get $i)) (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $loop16)))))
