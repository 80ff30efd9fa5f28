package postgres

import (
	"testing"

	"umbra/provider/store/storetest"
)

func BenchmarkGet(b *testing.B) {
	storetest.BenchmarkRead(b, openTest(b, cluster.NewDatabase(b)), false)
}

func BenchmarkOpenRead(b *testing.B) {
	storetest.BenchmarkRead(b, openTest(b, cluster.NewDatabase(b)), true)
}
