// Command kube-apiserver is the upstream Kubernetes API server, built from the published
// k8s.io/kubernetes module so tests run against the real thing without downloading binaries.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
