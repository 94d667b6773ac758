package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// k8sObject is one document of the manifest; Spec is decoded by kind.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"` // ConfigMap
	Spec yaml.Node         `yaml:"spec"`
}

type podTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec podSpec `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    *int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type container struct {
	Name  string          `yaml:"name"`
	Image string          `yaml:"image"`
	Args  []string        `yaml:"args"`
	Ports []containerPort `yaml:"ports"`
	Env   []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom any    `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Lifecycle      struct {
		PreStop struct {
			Sleep struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"` // number or the name of a container port
	} `yaml:"httpGet"`
}

// env returns the container's variables; those set by valueFrom (Secrets,
// resource fields) have an empty value.
func (c container) env() map[string]string {
	env := make(map[string]string)
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

// port resolves a probe's or Service's port, a number or a port's name.
func (c container) port(p any) int {
	switch p := p.(type) {
	case int:
		return p
	case string:
		for _, cp := range c.Ports {
			if cp.Name == p {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

// fmtPtr formats *p, or "unset".
func fmtPtr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// flagValue returns the value of --name in args, if any.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// k8sManifest is the parsed multi-document file.
type k8sManifest struct {
	objects    []k8sObject
	configMaps map[string]map[string]string
	deploy     struct {
		Replicas *int        `yaml:"replicas"`
		Template podTemplate `yaml:"template"`
	}
	service struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Port       int `yaml:"port"`
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
	}
	cronJob *podTemplate
}

func readK8s(t *testing.T) *k8sManifest {
	t.Helper()
	b, err := os.ReadFile(k8sFile)
	if err != nil {
		t.Fatal(err)
	}
	m := &k8sManifest{configMaps: make(map[string]map[string]string)}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: document %d: %v", k8sFile, len(m.objects)+1, err)
		}
		if o.Kind == "" {
			continue // an empty document
		}
		m.objects = append(m.objects, o)
		switch o.Kind {
		case "ConfigMap":
			m.configMaps[o.Metadata.Name] = o.Data
		case "Deployment":
			err = o.Spec.Decode(&m.deploy)
		case "Service":
			err = o.Spec.Decode(&m.service)
		case "CronJob":
			var cj struct {
				JobTemplate struct {
					Spec struct {
						Template podTemplate `yaml:"template"`
					} `yaml:"spec"`
				} `yaml:"jobTemplate"`
			}
			err = o.Spec.Decode(&cj)
			m.cronJob = &cj.JobTemplate.Spec.Template
		}
		if err != nil {
			t.Fatalf("%s: %s %s: %v", k8sFile, o.Kind, o.Metadata.Name, err)
		}
	}
	var kinds []string
	for _, o := range m.objects {
		kinds = append(kinds, o.Kind)
	}
	for _, want := range []string{"ConfigMap", "Deployment", "Service"} {
		if !slices.Contains(kinds, want) {
			t.Fatalf("%s: kinds %v, no %s", k8sFile, kinds, want)
		}
	}
	return m
}

// configFile returns the config.yaml that the pod's --config names, from
// the ConfigMap mounted there.
func (m *k8sManifest) configFile(t *testing.T, spec podSpec, c container) (path, content string) {
	t.Helper()
	path, ok := flagValue(c.Args, "config")
	if !ok {
		t.Fatalf("container %s: no --config in args %q", c.Name, c.Args)
	}
	for _, vm := range c.VolumeMounts {
		rel, err := filepath.Rel(vm.MountPath, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				data, ok := m.configMaps[v.ConfigMap.Name]
				if !ok {
					t.Fatalf("container %s: ConfigMap %q is not in %s", c.Name, v.ConfigMap.Name, k8sFile)
				}
				content, ok := data[rel]
				if !ok {
					t.Fatalf("container %s: ConfigMap %q has no %q for --config %s", c.Name, v.ConfigMap.Name, rel, path)
				}
				return path, content
			}
		}
	}
	t.Fatalf("container %s: --config %s is on no ConfigMap volume", c.Name, path)
	return "", ""
}

// TestKubernetes checks the manifest: the ConfigMap's config.yaml uses only
// known keys and is what --config names; the Deployment runs two non-root
// pods on a read-only root with resources, probes on /healthz and /readyz at
// the port commentd listens on, and a grace period longer than the drain;
// the Service reaches those pods; the CronJob runs flush --once.
func TestKubernetes(t *testing.T) {
	keys := knownKeys(t)
	m := readK8s(t)

	for name, data := range m.configMaps {
		for file, content := range data {
			if !strings.HasSuffix(file, ".yaml") {
				continue
			}
			var doc map[string]any
			if err := yaml.Unmarshal([]byte(content), &doc); err != nil {
				t.Fatalf("ConfigMap %s: %s: %v", name, file, err)
			}
			for k := range flatten(doc) {
				if _, ok := keys[k]; !ok {
					t.Errorf("ConfigMap %s: %s: unknown key %s (commentd would refuse to start)", name, file, k)
				}
			}
		}
	}

	d := m.deploy
	if d.Replicas == nil || *d.Replicas != 2 {
		t.Errorf("Deployment: replicas %s, want 2", fmtPtr(d.Replicas))
	}
	spec := d.Template.Spec
	if sc := spec.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("Deployment: pod securityContext must set runAsNonRoot and a non-zero runAsUser")
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("Deployment: %d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("Deployment: args %q, want serve --config …", c.Args)
	}
	if sc := c.SecurityContext; sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("Deployment: container securityContext must set readOnlyRootFilesystem and forbid privilege escalation")
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("Deployment: resources %+v, want cpu and memory requests and a memory limit", c.Resources)
	}
	env := c.env()
	checkEnv(t, "Deployment", env, keys)

	_, content := m.configFile(t, spec, c)
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(content), &doc); err != nil {
		t.Fatal(err)
	}
	cfg := flatten(doc) // the pod's settings: the file, then env over it
	for k := range keys {
		if v := env[envName(k)]; v != "" {
			cfg[k] = v
		}
	}
	addr := fmt.Sprint(keys["http.addr"])
	if a, ok := cfg["http.addr"]; ok {
		addr = fmt.Sprint(a)
	}
	_, p, _ := net.SplitHostPort(addr)
	listen, _ := strconv.Atoi(p)
	if !slices.ContainsFunc(c.Ports, func(cp containerPort) bool { return cp.ContainerPort == listen }) {
		t.Errorf("Deployment: no containerPort %d, where http.addr %q listens", listen, addr)
	}
	for _, pr := range []struct {
		name  string
		probe *probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("Deployment: no %s httpGet", pr.name)
			continue
		}
		if pr.probe.HTTPGet.Path != pr.path || c.port(pr.probe.HTTPGet.Port) != listen {
			t.Errorf("Deployment: %s GET %s on port %v, want %s on %d", pr.name, pr.probe.HTTPGet.Path, pr.probe.HTTPGet.Port, pr.path, listen)
		}
	}

	drain := fmt.Sprint(keys["flush.drain_timeout"])
	if v, ok := cfg["flush.drain_timeout"]; ok {
		drain = fmt.Sprint(v)
	}
	dt, err := time.ParseDuration(drain)
	if err != nil {
		t.Fatalf("flush.drain_timeout %q: %v", drain, err)
	}
	need := httpShutdown + dt + time.Duration(c.Lifecycle.PreStop.Sleep.Seconds)*time.Second
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= need {
		t.Errorf("Deployment: terminationGracePeriodSeconds %s, want more than preStop sleep + HTTP shutdown + flush.drain_timeout = %v", fmtPtr(g), need)
	}

	if len(m.service.Selector) == 0 {
		t.Errorf("Service: no selector")
	}
	for k, v := range m.service.Selector {
		if d.Template.Metadata.Labels[k] != v {
			t.Errorf("Service: selector %s=%s does not match the Deployment's pods", k, v)
		}
	}
	for _, sp := range m.service.Ports {
		if c.port(sp.TargetPort) != listen {
			t.Errorf("Service: targetPort %v does not reach port %d", sp.TargetPort, listen)
		}
	}

	if m.cronJob != nil {
		spec := m.cronJob.Spec
		if len(spec.Containers) != 1 {
			t.Fatalf("CronJob: %d containers, want 1", len(spec.Containers))
		}
		c := spec.Containers[0]
		if len(c.Args) < 2 || c.Args[0] != "flush" || !slices.Contains(c.Args, "--once") {
			t.Errorf("CronJob: args %q, want flush --once …", c.Args)
		}
		checkEnv(t, "CronJob", c.env(), keys)
		m.configFile(t, spec, c)
	}
}
