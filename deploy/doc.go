// Package deploy holds no code, only the tests that keep the packaging files
// honest: the Dockerfile, docker-compose.yml and kubernetes/commentd.yaml. No
// Docker engine or cluster runs where the tests run, so they check what can be
// checked without one: the files parse and have what they promise, every
// COMMENTD_* variable and config key in them is one commentd knows (and
// commentd itself loads them), and the Dockerfile's build command gives a
// static binary that runs.
package deploy
