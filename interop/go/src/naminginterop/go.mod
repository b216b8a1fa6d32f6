// Not a module build: the helper is built in GOPATH mode (GO111MODULE=off) against Debian's packaged
// sources. This file only marks the code as "new" for the go command's minimal module compatibility, so
// that etcd 3.5's /v3 import paths (go.etcd.io/etcd/api/v3/...) resolve to the /v3-less GOPATH folders.
module naminginterop
