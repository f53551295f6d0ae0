// Command kube-controller-manager is the upstream controller manager (namespace deletion,
// garbage collection of owned objects, ServiceAccount tokens), built from k8s.io/kubernetes.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
