# The fixture's test suite: the greeting must be spelled right.
if grep -qx 'Hello, world!' src/greeting.txt; then
  echo 'ok 1 - greeting'
else
  echo "not ok 1 - greeting is '$(cat src/greeting.txt)'" >&2
  exit 1
fi
