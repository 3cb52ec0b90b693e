#!/bin/sh
# A warm worker in plain sh (busybox works): upper-cases its input.
# The protocol (docs/services.md, "Warm services"): one line {"ready":true}
# when loaded; then per call, one JSON line in ({"id":1,"args":[...],
# "input":"/path","input_len":5,"call_dir":"/path","timeout_ms":29990}),
# and out a header line {"id":1,"len":N} followed by exactly N bytes.
echo '{"ready":true}'
while IFS= read -r call; do
  # Fields by shell patterns: quotes inside JSON strings are escaped, so
  # `"input":"` only matches the field itself.
  id=${call#*\"id\":}; id=${id%%,*}
  input=${call#*\"input\":\"}; input=${input%%\"*}
  dir=${call#*\"call_dir\":\"}; dir=${dir%%\"*}
  tr a-z A-Z < "$input" > "$dir/result"
  printf '{"id":%s,"len":%d}\n' "$id" "$(($(wc -c < "$dir/result")))"
  cat "$dir/result"
done
