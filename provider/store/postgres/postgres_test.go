package postgres

import (
	"os"
	"testing"

	"umbra/provider/store"
	"umbra/provider/store/postgres/pgtest"
	"umbra/provider/store/storetest"
)

// cluster is this test binary's PostgreSQL, started by the first test
// that needs it.
var cluster = new(pgtest.Cluster)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, cluster)) }

// openTest opens the store at url and closes it when t ends.
func openTest(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, cluster.NewDatabase(t)) })
}

func TestPersistence(t *testing.T) {
	storetest.RunPersistence(t, func(t *testing.T, name string) store.Store {
		return openTest(t, cluster.Database(t, name))
	})
}

// TestDeliverMemory is not parallel: it measures the process's memory.
func TestDeliverMemory(t *testing.T) {
	storetest.RunDeliverMemory(t, openTest(t, cluster.NewDatabase(t)))
}

// TestPutMemory and TestEnqueueMemory are not parallel either.
func TestPutMemory(t *testing.T) {
	storetest.RunPutMemory(t, openTest(t, cluster.NewDatabase(t)))
}

func TestEnqueueMemory(t *testing.T) {
	storetest.RunEnqueueMemory(t, openTest(t, cluster.NewDatabase(t)))
}
