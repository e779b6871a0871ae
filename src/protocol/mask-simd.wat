(module
  ;; Page 0 is the block that payloads from outside are copied into; pages 1-4 are the read area that a transport may
  ;; lend to socket reads (mask-simd.ts), so those bytes are masked where the kernel put them.
  (memory (export "memory") 5 5)
  ;; mask XORs memory[offset, offset + len) with the splatted key, 16 bytes at a time; the last len % 16 bytes are
  ;; left to the caller.
  (func (export "mask") (param $offset i32) (param $len i32) (param $key i32)
    (local $i i32) (local $k v128) (local $end64 i32) (local $end i32)
    (local.set $k (i32x4.splat (local.get $key)))
    (local.set $i (local.get $offset))
    (local.set $end (i32.add (local.get $offset) (local.get $len)))
    (local.set $end64 (i32.add (local.get $offset) (i32.and (local.get $len) (i32.const -64))))
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
        (br_if $done16 (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $end)))
        (v128.store (local.get $i) (v128.xor (v128.load (local.get $i)) (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $loop16)))))
