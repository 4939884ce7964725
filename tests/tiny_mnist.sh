# Sourced by the shell-driven tests: write_tiny_mnist DIR TRAIN_ROWS TEST_ROWS
# writes MNIST-format IDX files (random 28x28 images, zero labels) into DIR.
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
write_tiny_mnist() {
  local dir=$1 s name n
  mkdir -p "$dir"
  for s in train:$2 t10k:$3; do
    name=${s%%:*} n=${s##*:}
    { be32 2051; be32 "$n"; be32 28; be32 28; head -c $((n * 784)) /dev/urandom; } > "$dir/$name-images-idx3-ubyte"
    { be32 2049; be32 "$n"; head -c "$n" /dev/zero; } > "$dir/$name-labels-idx1-ubyte"
  done
}
