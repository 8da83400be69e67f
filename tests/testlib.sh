# testlib.sh — what the shell tests share. A test script (run as `bash tests/test_X.sh BIN_DIR SOURCE_DIR`)
# starts with `source "$2/tests/testlib.sh" "$@"`, which sets BIN and SRC, makes a scratch directory TMP
# removed on exit, moves to the source tree (configs and the committed sample are named from there),
# defines fail, and gives SMALL: the overrides that make the committed click config a model of a few
# thousand parameters that trains in a second.
set -u
BIN=$1
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$SRC" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
SMALL=(--set data.max_len=8 --set text.embedding_dim=8 --set text.hidden=8 --set text.dense=8
       --set image.filters=4,8 --set image.dense=16 --set fusion.dense=16 --quiet)
