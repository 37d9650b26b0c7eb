// Package deploy holds the images and the proxy configuration. Traefik's
// image cannot be pulled on an air-gapped build host, so its configuration
// is tested here as data: the compose file parses, Traefik's static
// configuration has the entrypoint the routers use, and the gateway's
// labels route Host(`db.localhost`) to its port 8000.
package deploy

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		Networks    []string          `yaml:"networks"`
		Labels      map[string]string `yaml:"labels"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   []string          `yaml:"depends_on"`
		ReadOnly    bool              `yaml:"read_only"`
		CapDrop     []string          `yaml:"cap_drop"`
	} `yaml:"services"`
	Networks map[string]struct {
		Name string `yaml:"name"`
	} `yaml:"networks"`
}

func load(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	return c
}

// traefikStatic turns Traefik's CLI flags into a key → value map.
func traefikStatic(cmd []string) map[string]string {
	m := map[string]string{}
	for _, arg := range cmd {
		k, v, ok := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !ok {
			v = "true"
		}
		m[strings.ToLower(k)] = v
	}
	return m
}

var hostRule = regexp.MustCompile("^Host\\(`([^`]+)`\\)$")

// route is what Traefik's docker provider makes of a service's labels.
type route struct {
	host        string
	entrypoints []string
	port        string
}

func routesOf(labels map[string]string) (map[string]*route, error) {
	routes := map[string]*route{}
	get := func(name string) *route {
		if routes[name] == nil {
			routes[name] = &route{}
		}
		return routes[name]
	}
	port := ""
	for k, v := range labels {
		parts := strings.Split(k, ".")
		switch {
		case len(parts) == 5 && parts[0] == "traefik" && parts[1] == "http" && parts[2] == "routers" && parts[4] == "rule":
			m := hostRule.FindStringSubmatch(v)
			if m == nil {
				return nil, fmt.Errorf("router %s: rule %q is not Host(`...`)", parts[3], v)
			}
			get(parts[3]).host = m[1]
		case len(parts) == 5 && parts[0] == "traefik" && parts[2] == "routers" && parts[4] == "entrypoints":
			get(parts[3]).entrypoints = strings.Split(v, ",")
		case len(parts) == 7 && parts[2] == "services" && parts[4] == "loadbalancer" && parts[5] == "server" && parts[6] == "port":
			port = v
		}
	}
	for _, r := range routes {
		r.port = port
	}
	return routes, nil
}

func TestComposeRoutesDBLocalhostToTheGateway(t *testing.T) {
	c := load(t)
	traefik, ok := c.Services["traefik"]
	if !ok || !strings.HasPrefix(traefik.Image, "${TRAEFIK_IMAGE:-traefik:v3") {
		t.Fatalf("traefik service with a v3 image: %+v", traefik)
	}
	static := traefikStatic(traefik.Command)
	for k, want := range map[string]string{
		"providers.docker":                  "true",
		"providers.docker.exposedbydefault": "false",
		"entrypoints.web.address":           ":80",
		"providers.docker.network":          "db-forge-net",
	} {
		if static[k] != want {
			t.Errorf("traefik static %s = %q, want %q", k, static[k], want)
		}
	}
	if !slices.Contains(traefik.Ports, "80:80") || !slices.Contains(traefik.Volumes, "/var/run/docker.sock:/var/run/docker.sock:ro") {
		t.Errorf("traefik ports %v volumes %v", traefik.Ports, traefik.Volumes)
	}

	gw, ok := c.Services["gateway"]
	if !ok {
		t.Fatal("no gateway service")
	}
	if gw.Labels["traefik.enable"] != "true" {
		t.Fatal("gateway not exposed to Traefik (exposedByDefault is false)")
	}
	routes, err := routesOf(gw.Labels)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for name, r := range routes {
		for _, ep := range r.entrypoints {
			if _, ok := static["entrypoints."+ep+".address"]; !ok {
				t.Errorf("router %s uses entrypoint %q that Traefik does not define", name, ep)
			}
		}
		if r.host == "db.localhost" && slices.Contains(r.entrypoints, "web") && r.port == "8000" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no router sends Host(`db.localhost`) on web to port 8000: %+v", routes)
	}
	if gw.Environment["FORGE_LISTEN"] != ":8000" {
		t.Errorf("gateway listens on %q, routed to 8000", gw.Environment["FORGE_LISTEN"])
	}
}

func TestComposeGatewayWiring(t *testing.T) {
	c := load(t)
	gw := c.Services["gateway"]
	if !slices.Contains(gw.Volumes, "/var/run/docker.sock:/var/run/docker.sock") || !slices.Contains(gw.Volumes, "./db-data:/data") {
		t.Errorf("gateway volumes %v: want the Docker socket and ./db-data", gw.Volumes)
	}
	if gw.Environment["FORGE_BACKEND"] != "docker" || gw.Environment["FORGE_DATA_DIR"] != "/data" || gw.Environment["FORGE_HOST_DATA_DIR"] == "" {
		t.Errorf("gateway environment %v", gw.Environment)
	}
	if !slices.Contains(gw.Networks, "db-forge-net") || c.Networks["db-forge-net"].Name != "db-forge-net" {
		t.Errorf("network: %v %v", gw.Networks, c.Networks)
	}
	if !gw.ReadOnly || !slices.Contains(gw.CapDrop, "ALL") {
		t.Errorf("gateway container not hardened: read_only=%v cap_drop=%v", gw.ReadOnly, gw.CapDrop)
	}
	if slices.Contains(gw.DependsOn, "traefik") {
		t.Error("the gateway must start without Traefik (make up without its image)")
	}
	for k := range gw.Environment {
		if strings.HasPrefix(k, "FORGE_") && !settingExists(t, k) {
			t.Errorf("compose sets unknown %s: the gateway would refuse to start", k)
		}
	}
}

func settingExists(t *testing.T, env string) bool {
	data, err := os.ReadFile("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(data), "\n"+env+"=")
}
