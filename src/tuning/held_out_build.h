// Building an index and tuning it on vectors held out of it until the tuning is done: the path
// of build_tuned() and of an auto index's migrations.
//
// Why hold the sample out rather than tune on stored vectors (tune_held_out): a stored vector
// searched for finds itself, and on a graph the links around it lead straight to its
// neighbours, so recall looks better than for a query the index has never seen. Measured on
// 200K x 128 clustered data, HNSW M=16, target recall@10 0.95: sampling stored vectors chose
// ef_search 45, which gives 0.87 on fresh queries; the same sample held out chose 79 (0.95 on
// fresh queries, where tuning on fresh queries chose 81). IVF shows no such bias (17 vs 16).
#pragma once

#include <cstdint>

#include "vecperf/index.h"
#include "vecperf/options.h"
#include "vecperf/status.h"
#include "vecperf/tuning.h"

namespace vecperf::internal {

/// Vectors add_and_tune() holds out of n: min(sample_size, n / 10), so the index it tunes holds
/// at least nine tenths of the data. 0 when n < 10.
int64_t held_out_rows(int64_t n, int64_t sample_size);

/// Adds `vectors` with `ids` to `index` in chunks of `chunk_rows`, calling
/// on_progress(rows added, vectors.rows) first with 0 and then after each chunk, except a seeded
/// sample of held_out_rows(rows, tuning.sample_size) rows (seed tuning.seed): once the rest is
/// in, the index is tuned on that sample with tune(), then the sample is added as well. With no
/// row to spare everything is added and tune_held_out() runs instead. The outcome of the tuning
/// goes to `*tuned` (held_out true, sample_size the sample's rows); a tuning failure does not
/// stop the adds. Returns kInvalidArgument when ids and vectors disagree in count, or the
/// vectors in dimension with the index, or the first add error (the index may then hold part of
/// the vectors). The adds use tuning.num_threads threads, like the tuning's searches.
Status add_and_tune(Index& index, IdSpan ids, MatrixView vectors, double target_recall, int k,
                    const TuningOptions& tuning, int64_t chunk_rows,
                    const ProgressCallback& on_progress, Result<TuningResult>* tuned);

}  // namespace vecperf::internal
