// Package deploy holds the deployment files; its test renders the Helm chart
// with the pinned helm (helm.mod) for several value sets and decodes every
// object strictly into the Kubernetes API types, offline.
package deploy

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor the
// chart writes (a CRD: not in k8s.io/api); unknown fields are refused too.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func root(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Dir(filepath.Dir(file))
}

// helm runs the pinned helm with args in the repository's root.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=helm.mod", "helm"}, args...)...)
	cmd.Dir = root(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "helm %s: %s", strings.Join(args, " "), stderr.String())
	return out
}

// render renders the chart with the given --set values and decodes every
// object strictly into its type; it returns the objects by kind.
func render(t *testing.T, set ...string) map[string][]any {
	t.Helper()
	args := []string{"template", "todo", "deploy/helm/todo-api"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out := map[string][]any{}
	for _, doc := range strings.Split(string(helm(t, args...)), "\n---") {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
			continue
		}
		var head struct{ Kind string }
		require.NoError(t, yaml.Unmarshal([]byte(doc), &head))
		var obj any
		switch head.Kind {
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "Service":
			obj = &corev1.Service{}
		case "Job":
			obj = &batchv1.Job{}
		case "HorizontalPodAutoscaler":
			obj = &autoscalingv2.HorizontalPodAutoscaler{}
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "ServiceMonitor":
			obj = &serviceMonitor{}
		default:
			t.Fatalf("the chart renders a %q, which this test does not know", head.Kind)
		}
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), "a field the %s type does not have:\n%s", head.Kind, doc)
		out[head.Kind] = append(out[head.Kind], obj)
	}
	return out
}

func TestChartLints(t *testing.T) {
	out := helm(t, "lint", "--strict", "deploy/helm/todo-api")
	assert.Contains(t, string(out), "0 chart(s) failed")
}

func TestChartDefaults(t *testing.T) {
	objs := render(t)
	require.Len(t, objs["Deployment"], 1)
	d := objs["Deployment"][0].(*appsv1.Deployment)
	assert.Nil(t, d.Spec.Replicas, "the HPA owns the count")
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.NotNil(t, c.Lifecycle.PreStop.Sleep)
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	for _, secret := range []string{"DATABASE_URL", "JWT_SECRET_KEY"} {
		require.NotNil(t, env[secret].ValueFrom, secret)
		assert.Equal(t, "todo-api", env[secret].ValueFrom.SecretKeyRef.Name, "%s by reference", secret)
		assert.Empty(t, env[secret].Value)
	}
	assert.Equal(t, ":9091", env["METRICS_ADDR"].Value)
	require.NotNil(t, env["GOMEMLIMIT"].ValueFrom, "GOMEMLIMIT from the container's memory limit")
	assert.Equal(t, "limits.memory", env["GOMEMLIMIT"].ValueFrom.ResourceFieldRef.Resource)
	job := objs["Job"][0].(*batchv1.Job)
	assert.Equal(t, []string{"migrate", "up"}, job.Spec.Template.Spec.Containers[0].Args)
	assert.Equal(t, "pre-install,pre-upgrade", job.Annotations["helm.sh/hook"])
	assert.Len(t, objs["HorizontalPodAutoscaler"], 1)
	assert.Len(t, objs["PodDisruptionBudget"], 1)
	assert.Len(t, objs["Service"], 1)
	assert.Empty(t, objs["ServiceMonitor"])
}

func TestChartWithoutAutoscaling(t *testing.T) {
	objs := render(t, "autoscaling.enabled=false", "podDisruptionBudget.enabled=false", "migrations.enabled=false")
	d := objs["Deployment"][0].(*appsv1.Deployment)
	require.NotNil(t, d.Spec.Replicas)
	assert.Equal(t, int32(2), *d.Spec.Replicas)
	assert.Empty(t, objs["HorizontalPodAutoscaler"])
	assert.Empty(t, objs["PodDisruptionBudget"])
	assert.Empty(t, objs["Job"])
}

func TestChartExternalSecretNames(t *testing.T) {
	objs := render(t, "secrets.name=prod-db", "secrets.databaseURLKey=pgbouncer-url", "secrets.databaseDirectURLKey=primary-url",
		"config.DB_TRANSACTION_POOLER=true")
	for _, c := range []corev1.Container{objs["Deployment"][0].(*appsv1.Deployment).Spec.Template.Spec.Containers[0],
		objs["Job"][0].(*batchv1.Job).Spec.Template.Spec.Containers[0]} {
		keys := map[string]string{}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				assert.Equal(t, "prod-db", e.ValueFrom.SecretKeyRef.Name)
				keys[e.Name] = e.ValueFrom.SecretKeyRef.Key
			}
		}
		assert.Equal(t, map[string]string{"DATABASE_URL": "pgbouncer-url", "DATABASE_DIRECT_URL": "primary-url", "JWT_SECRET_KEY": "JWT_SECRET_KEY"}, keys)
	}
}

func TestChartServiceMonitor(t *testing.T) {
	objs := render(t, "metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prometheus")
	require.Len(t, objs["ServiceMonitor"], 1)
	sm := objs["ServiceMonitor"][0].(*serviceMonitor)
	assert.Equal(t, "metrics", sm.Spec.Endpoints[0].Port)
	assert.Equal(t, "prometheus", sm.Metadata.Labels["release"])
	svc := objs["Service"][0].(*corev1.Service)
	var names []string
	for _, p := range svc.Spec.Ports {
		names = append(names, p.Name)
	}
	assert.Contains(t, names, "metrics", "the ServiceMonitor's port is on the Service")
}
