package testnet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// clusterCPU measures the CPU time of the PostgreSQL cluster that serves a
// database, when it runs on this machine: its postmaster and the
// postmaster's children (backends, WAL writer, checkpointer…), read from
// /proc as the CPU of the umbra process is (processCPU). Other clusters
// on the machine, such as other tests', are not counted.
type clusterCPU struct{ postmaster int }

// newClusterCPU finds the postmaster of db's cluster: the parent of the
// backend that serves a connection to it.
func newClusterCPU(ctx context.Context, db string) (*clusterCPU, error) {
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("testnet: bench: connect to measure PostgreSQL's CPU: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var backend int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return nil, fmt.Errorf("testnet: bench: backend pid: %w", err)
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(backend), "stat"))
	if err != nil {
		return nil, fmt.Errorf("testnet: bench: PostgreSQL is not on this machine (or not visible): %w", err)
	}
	ppid, err := statField(stat, 1) // field 4, the parent
	if err != nil {
		return nil, err
	}
	return &clusterCPU{postmaster: ppid}, nil
}

// total is the CPU time, user and system, of the postmaster and its
// live children. A child that exits takes its time with it, so the
// difference of two totals is meaningful only for work done by processes
// that live through both readings (the pool's backends do).
func (c *clusterCPU) total() time.Duration {
	var sum time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		if ppid, err := statField(stat, 1); err != nil || (pid != c.postmaster && ppid != c.postmaster) {
			continue
		}
		if d, err := parseProcStatCPU(stat); err == nil {
			sum += d
		}
	}
	return sum
}

// statField returns the numeric field i of a /proc/[pid]/stat line,
// counted from 0 after the command: 0 is the state, 1 the parent's pid.
func statField(stat []byte, i int) (int, error) {
	j := bytes.LastIndexByte(stat, ')')
	f := bytes.Fields(stat[j+1:])
	if j < 0 || len(f) <= i {
		return 0, fmt.Errorf("testnet: /proc stat line %.40q: no field %d", stat, i)
	}
	return strconv.Atoi(string(f[i]))
}
