package main

import (
	"bytes"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// nodeFile is what the supervisor needs of a node file (one of
// cluster-config/): the node's name and where it listens.
type nodeFile struct {
	Path          string `yaml:"-"`
	Name          string `yaml:"node"`
	HTTPAddr      string `yaml:"http_addr"`
	AdminAddr     string `yaml:"admin_addr"`
	ClusterAddr   string `yaml:"cluster_addr"`
	EtcdEndpoints string `yaml:"etcd_endpoints"`
}

// readNodeFiles reads the node files, which must name distinct nodes, each
// with a client address to ask /readyz at.
func readNodeFiles(paths []string) ([]nodeFile, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no node files given (such as cluster-config/node1.yaml)")
	}
	seen := map[string]string{}
	var nodes []nodeFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var nf nodeFile
		// Not strict: swiperd checks the file; this reads four keys of it.
		if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&nf); err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		nf.Path = p
		switch {
		case nf.Name == "":
			return nil, fmt.Errorf("%s names no node (node: node1, say): each node's log lines and pid file are named after it", p)
		case nf.HTTPAddr == "":
			return nil, fmt.Errorf("%s has no http_addr, where its /readyz would answer", p)
		case seen[nf.Name] != "":
			return nil, fmt.Errorf("%s and %s both name node %q", seen[nf.Name], p, nf.Name)
		}
		seen[nf.Name] = p
		nodes = append(nodes, nf)
	}
	return nodes, nil
}
