package refcluster

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/wait"
)

// etcdBinary is a real etcd server built by scripts/etcd-build.sh, named
// by NSRAFT_ETCD (CI builds it and sets it).
func etcdBinary(t testing.TB) string {
	p := os.Getenv("NSRAFT_ETCD")
	if p == "" {
		if os.Getenv("NSRAFT_REQUIRE_ETCD") != "" {
			t.Fatal("NSRAFT_REQUIRE_ETCD is set but NSRAFT_ETCD names no binary")
		}
		t.Skip("no etcd: run scripts/etcd-build.sh and set NSRAFT_ETCD to the path it prints")
	}
	return p
}

// TestEtcdClusterThroughProxies starts three real etcd members whose peer
// traffic passes through toxiproxy, writes through one, survives a member
// SIGKILL and restart, and shows a partitioned member unhealthy.
func TestEtcdClusterThroughProxies(t *testing.T) {
	bin := etcdBinary(t)
	mesh := NewMesh()
	defer mesh.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	c, err := StartEtcd(ctx, EtcdConfig{Binary: bin, Dir: t.TempDir(), Members: 3, Mesh: mesh})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	t.Logf("3 members healthy in %v", time.Since(start).Round(time.Millisecond))
	if len(mesh.Links()) != 3 {
		t.Fatalf("proxies: %v", mesh.Links())
	}
	put := func(m *EtcdMember) int {
		req, _ := http.NewRequest("POST", m.ClientURL+"/v3/kv/put", strings.NewReader(`{"key":"a2V5","value":"dmFsdWU="}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put(c.Members[0]); code != 200 {
		t.Fatalf("put: %d", code)
	}
	if err := c.Kill("m2"); err != nil {
		t.Fatal(err)
	}
	// m2 may have led: the others elect within a few election timeouts.
	wait.Until(t, 15*time.Second, "a put with m2 down", func() (bool, int) {
		code := put(c.Members[0])
		return code == 200, code
	})
	if err := c.Restart(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	// Cut m3's peer traffic: it loses its leader and reports unhealthy.
	if err := mesh.SetLink(Inbound, "m3", LinkFault{Down: true}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 20*time.Second, "m3 to report unhealthy with its peer traffic cut", func() bool {
		resp, err := http.Get(c.Member("m3").ClientURL + "/health")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(b), `"health":"false"`)
	})
	if err := mesh.SetLink(Inbound, "m3", LinkFault{}); err != nil {
		t.Fatal(err)
	}
	if err := c.waitHealthy(ctx, c.Member("m3")); err != nil {
		t.Fatal(err)
	}
}
