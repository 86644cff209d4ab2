// The event log on PostgreSQL (libpqxx): versioned migrations at start-up, a
// small connection pool, one transaction per append. Every pqxx exception
// stops here and becomes an error value.
#include "adapters/store/postgres_news.hpp"
#include "adapters/store/store.hpp"
#include "adapters/store/stream_name.hpp"
#include "events/event.hpp"
#include "events/json_safe.hpp"
#include "events/json_text.hpp"

#include <poll.h>
#include <pqxx/pqxx>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace riposte::adapters::store {

namespace {

using events::append_request;
using events::envelope;
using events::make_error;
using events::riposte_errc;
template <class T>
using result = events::result<T>;
using json = nlohmann::json;

// Ordered and append-only: a released migration is never edited.
const std::vector<std::pair<int, std::string>>& migrations() {
  static const std::vector<std::pair<int, std::string>> list{
      {1, R"sql(
      create table events (
        global_position bigserial primary key,
        stream_id text not null,
        seq bigint not null,
        type text not null,
        version int not null,
        tenant text not null,
        recorded_at timestamptz not null,
        payload jsonb not null,
        unique (stream_id, seq));
      create table snapshots (
        stream_id text primary key,
        seq bigint not null,
        payload text not null);
      create table blobs (
        id text not null,
        chunk int not null,
        data bytea not null,
        primary key (id, chunk));
      create table blob_meta (
        id text primary key,
        chunks int not null,
        bytes bigint not null);
    )sql"},
      {2, R"sql(
      create table markers (
        ns text not null,
        key text not null,
        primary key (ns, key));
    )sql"},
      // json keeps the text as written: jsonb cannot hold a string with
      // U+0000, which a client may send (a tool's binary output) and the
      // embedded store keeps.
      {3, R"sql(
      alter table events alter column payload type json using payload::json;
    )sql"},
      // Transaction order (see "Global order without holes" in the README):
      // a position is the appending transaction's id, shifted, plus the
      // event's place in it, above every position stored before.
      {4, R"sql(
      create table log_meta (one boolean primary key default true check (one),
                             position_base bigint not null);
      insert into log_meta (position_base) select coalesce(max(global_position), 0) + 1 from events;
      alter table events alter column global_position drop default;
    )sql"},
      // Replicas on one database: each process's lease on its in-flight
      // responses (see "Replicas" in the README). A replica's markers live in
      // the namespace inflight<US><id>; its appends hold only while its row
      // keeps the epoch it took.
      {5, R"sql(
      create table replicas (id text primary key, epoch bigint not null,
                             expires_at timestamptz not null);
      create sequence replica_epochs;
    )sql"},
      // What each replica serves (its backends as it describes them, without
      // their addresses), so that replicas started differently are told.
      {6, R"sql(
      alter table replicas add column config text not null default '';
    )sql"},
      // A queue of generations shared by the replicas, so that concurrency
      // limits hold across them (see "Replicas" in the README): a row per
      // waiting or running generation, admitted under one lock by whichever
      // replica asks, tenants in turn (least recently served first), each
      // tenant's oldest request first. Rows of
      // replicas whose lease ended free their slots.
      {7, R"sql(
      create table jobs (
        holder text not null,
        epoch bigint not null,
        ticket bigint not null,
        tenant text not null,
        asked_at bigint not null,
        limit_names text[] not null,
        limit_counts bigint[] not null,
        arrival bigserial,
        admitted boolean not null default false,
        primary key (holder, epoch, ticket));
      create table job_turns (tenant text primary key, served bigint not null);
      create sequence job_turn_seq;
      create function riposte_admit(me text, my_epoch bigint, arrived json, ended bigint[])
      returns json language plpgsql as $fn$
      declare
        running jsonb;
        job record;
        fits boolean;
        picked boolean;
        told text[] := '{}';
      begin
        perform pg_advisory_xact_lock(7526411283870724466);
        if not exists (select 1 from replicas r where r.id = me and r.epoch = my_epoch
                       and r.expires_at > now()) then
          return json_build_object('admitted', json_build_array(), 'others_waiting', false);
        end if;
        delete from jobs j where not exists (select 1 from replicas r where r.id = j.holder
          and r.epoch = j.epoch and r.expires_at > now());
        delete from jobs j where j.holder = me and j.epoch = my_epoch and j.ticket = any(ended);
        insert into jobs (holder, epoch, ticket, tenant, asked_at, limit_names, limit_counts)
          select me, my_epoch, (a->>'t')::bigint, a->>'n', (a->>'s')::bigint,
                 array(select json_array_elements_text(a->'k')),
                 array(select json_array_elements_text(a->'l')::bigint)
          from json_array_elements(arrived) a
          on conflict do nothing;
        select coalesce(jsonb_object_agg(s.name, s.n), '{}'::jsonb) into running
          from (select l.name, count(*) as n from jobs j, unnest(j.limit_names) l(name)
                where j.admitted group by l.name) s;
        loop
          picked := false;
          for job in select j.holder, j.epoch, j.ticket, j.tenant, j.limit_names, j.limit_counts
                     from jobs j left join job_turns t on t.tenant = j.tenant
                     where not j.admitted order by coalesce(t.served, 0), j.asked_at, j.arrival loop
            fits := true;
            for i in 1 .. coalesce(array_length(job.limit_names, 1), 0) loop
              if coalesce((running ->> job.limit_names[i])::bigint, 0) >= job.limit_counts[i] then
                fits := false;
                exit;
              end if;
            end loop;
            continue when not fits;
            update jobs j set admitted = true
              where j.holder = job.holder and j.epoch = job.epoch and j.ticket = job.ticket;
            for i in 1 .. coalesce(array_length(job.limit_names, 1), 0) loop
              running := jsonb_set(running, array[job.limit_names[i]],
                to_jsonb(coalesce((running ->> job.limit_names[i])::bigint, 0) + 1));
            end loop;
            insert into job_turns (tenant, served) values (job.tenant, nextval('job_turn_seq'))
              on conflict (tenant) do update set served = excluded.served;
            if (job.holder <> me or job.epoch <> my_epoch)
               and not (job.holder || '/' || job.epoch) = any(told) then
              told := told || (job.holder || '/' || job.epoch);
            end if;
            picked := true;
            exit;
          end loop;
          exit when not picked;
        end loop;
        if coalesce(array_length(told, 1), 0) > 0 then
          perform pg_notify('riposte_news', json_build_object('o', 'admission', 'n',
            (select json_agg(json_build_array('j', h, 0)) from unnest(told) h))::text);
        end if;
        return json_build_object(
          'admitted', (select coalesce(json_agg(j.ticket order by j.ticket), '[]') from jobs j
                       where j.holder = me and j.epoch = my_epoch and j.admitted),
          'others_waiting', exists (select 1 from jobs j where not j.admitted
                                    and (j.holder <> me or j.epoch <> my_epoch)));
      end
      $fn$;
    )sql"},
      // The shared queue tells each replica which of its tickets another
      // one admitted, so it starts them without asking (one round trip and
      // one pass under the lock fewer per slot that changes hands).
      {8, R"sql(
      create or replace function riposte_admit(me text, my_epoch bigint, arrived json, ended bigint[])
      returns json language plpgsql as $fn$
      declare
        running jsonb;
        job record;
        fits boolean;
        picked boolean;
        told text := '';
        entry text;
      begin
        perform pg_advisory_xact_lock(7526411283870724466);
        if not exists (select 1 from replicas r where r.id = me and r.epoch = my_epoch
                       and r.expires_at > now()) then
          return json_build_object('admitted', json_build_array(), 'others_waiting', false);
        end if;
        delete from jobs j where not exists (select 1 from replicas r where r.id = j.holder
          and r.epoch = j.epoch and r.expires_at > now());
        delete from jobs j where j.holder = me and j.epoch = my_epoch and j.ticket = any(ended);
        insert into jobs (holder, epoch, ticket, tenant, asked_at, limit_names, limit_counts)
          select me, my_epoch, (a->>'t')::bigint, a->>'n', (a->>'s')::bigint,
                 array(select json_array_elements_text(a->'k')),
                 array(select json_array_elements_text(a->'l')::bigint)
          from json_array_elements(arrived) a
          on conflict do nothing;
        select coalesce(jsonb_object_agg(s.name, s.n), '{}'::jsonb) into running
          from (select l.name, count(*) as n from jobs j, unnest(j.limit_names) l(name)
                where j.admitted group by l.name) s;
        loop
          picked := false;
          for job in select j.holder, j.epoch, j.ticket, j.tenant, j.limit_names, j.limit_counts
                     from jobs j left join job_turns t on t.tenant = j.tenant
                     where not j.admitted order by coalesce(t.served, 0), j.asked_at, j.arrival loop
            fits := true;
            for i in 1 .. coalesce(array_length(job.limit_names, 1), 0) loop
              if coalesce((running ->> job.limit_names[i])::bigint, 0) >= job.limit_counts[i] then
                fits := false;
                exit;
              end if;
            end loop;
            continue when not fits;
            update jobs j set admitted = true
              where j.holder = job.holder and j.epoch = job.epoch and j.ticket = job.ticket;
            for i in 1 .. coalesce(array_length(job.limit_names, 1), 0) loop
              running := jsonb_set(running, array[job.limit_names[i]],
                to_jsonb(coalesce((running ->> job.limit_names[i])::bigint, 0) + 1));
            end loop;
            insert into job_turns (tenant, served) values (job.tenant, nextval('job_turn_seq'))
              on conflict (tenant) do update set served = excluded.served;
            if job.holder <> me or job.epoch <> my_epoch then
              entry := json_build_array('j', job.holder || '/' || job.epoch, job.ticket)::text;
              if length(told) + length(entry) > 6000 then -- NOTIFY takes under 8000 bytes
                perform pg_notify('riposte_news', '{"o":"admission","n":[' || told || ']}');
                told := '';
              end if;
              told := told || case when told = '' then '' else ',' end || entry;
            end if;
            picked := true;
            exit;
          end loop;
          exit when not picked;
        end loop;
        if told <> '' then
          perform pg_notify('riposte_news', '{"o":"admission","n":[' || told || ']}');
        end if;
        return json_build_object(
          'admitted', (select coalesce(json_agg(j.ticket order by j.ticket), '[]') from jobs j
                       where j.holder = me and j.epoch = my_epoch and j.admitted),
          'others_waiting', exists (select 1 from jobs j where not j.admitted
                                    and (j.holder <> me or j.epoch <> my_epoch)));
      end
      $fn$;
    )sql"},
  };
  return list;
}

// Serializes migrations between processes.
constexpr long long migration_lock = 0x72697073746531; // "ripste1"

// A transaction's events take positions base + (its id << tx_shift) + n:
// at most this many events per transaction.
constexpr int tx_shift = 16;
constexpr std::size_t max_events_per_transaction = std::size_t{1} << tx_shift;
const std::string tx_position = "(select position_base from log_meta) + "
                                "(pg_current_xact_id()::text::bigint << " +
                                std::to_string(tx_shift) + ")";
// Every transaction that began before the oldest one still running has ended:
// positions below this can no longer appear. Transaction ids are the
// cluster's, but a transaction seen running in another database can never
// write this one's events, so it does not hold the feed back (a long job in a
// neighbour's database would otherwise stall it). Only a positive sighting
// counts: an id no backend shows (it ended after the snapshot was taken, or
// it is a prepared transaction) holds the horizon, as the snapshot's xmin
// would. (Not for a hot standby, whose snapshots list no running ids: riposte
// never reads from one.)
const std::string read_horizon =
    "(select position_base from log_meta) + (least("
    "pg_snapshot_xmax(pg_current_snapshot())::text::bigint, "
    "(select min(x::text::bigint) from pg_snapshot_xip(pg_current_snapshot()) x "
    "where not exists (select 1 from pg_stat_get_activity(null) a "
    "where a.backend_xid::text::bigint = x::text::bigint % 4294967296 and a.datid <> "
    "(select oid from pg_database where datname = current_database())))) << " +
    std::to_string(tx_shift) + ")";

std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n' || c == '\r')
      c = ' ';
  while (!text.empty() && text.back() == ' ')
    text.pop_back();
  return text;
}

events::error_info pg_error(const std::string& what, const std::exception& ex) {
  return make_error(riposte_errc::store_error, what + ": " + one_line(ex.what()));
}

// Does the appending process still hold its lease ($6 its replica id, empty
// when it holds none, $7 the epoch it took)? Checked inside each append, so a
// replica that lost its lease cannot write even one more event. The row is
// share-locked (by key: renewals do not wait): a claim that deletes it waits
// for the append, and an append after the claim finds it gone.
const std::string lease_held = "($6::text = '' or exists (select 1 from replicas where id = $6 "
                               "and epoch = $7::bigint for key share))";

// Selected from by a statement that need not wait for the disk: one round
// trip, the setting local to its implicit transaction (see event_log.hpp).
const std::string lazily = "(select set_config('synchronous_commit', 'off', true)) lazy";

class connection_pool {
public:
  connection_pool(std::string uri, std::size_t size, bool synchronous)
    : uri_(std::move(uri))
    , synchronous_(synchronous) {
    for (std::size_t i = 0; i < size; ++i)
      idle_.push_back({connect(), 0});
  }

  // Runs `fn` with a connection; a broken connection is replaced next time.
  // Once one broke, every connection idle since is replaced before its next
  // use: after the server restarted they all look open until a statement
  // fails on them, and that statement would be some request's.
  template <class F>
  auto with(F&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
    pooled conn;
    {
      std::unique_lock lock{mutex_};
      ready_.wait(lock, [this] { return !idle_.empty(); });
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
    struct give_back {
      connection_pool* pool;
      pooled* conn;
      ~give_back() {
        std::lock_guard guard{pool->mutex_};
        pool->idle_.push_back(std::move(*conn));
        pool->ready_.notify_one();
      }
    } guard{this, &conn};
    if (conn.c && conn.c->is_open() && hung_up(*conn.c))
      ++breaks_;
    auto breaks = breaks_.load();
    if (!conn.c || !conn.c->is_open() || conn.breaks_seen != breaks) {
      conn.c.reset();
      conn.c = connect();
      conn.breaks_seen = breaks;
    }
    try {
      return fn(*conn.c);
    } catch (const pqxx::broken_connection&) {
      ++breaks_;
      throw;
    } catch (...) {
      // A server going away says goodbye with an error (57P01) that libpqxx
      // throws as a plain SQL error; the connection is closed all the same.
      if (!conn.c->is_open())
        ++breaks_;
      throw;
    }
  }

private:
  // An idle connection has nothing to read unless the server closed it (it
  // stopped, restarted, or ended the session) and said so: its goodbye, or
  // the end of the stream. Found before a statement is sent, so that no
  // request's statement is the one to find out.
  static bool hung_up(pqxx::connection& c) {
    pollfd p{c.sock(), POLLIN, 0};
    return p.fd < 0 || ::poll(&p, 1, 0) != 0;
  }

  std::unique_ptr<pqxx::connection> connect() {
    auto c = std::make_unique<pqxx::connection>(uri_);
    if (!synchronous_) {
      pqxx::nontransaction n{*c};
      n.exec("set synchronous_commit = off");
    }
    c->prepare("head", "select coalesce(max(seq), -1) from events where stream_id = $1");
    // One append is one statement, so one round trip and an implicit
    // transaction: the head, the expected-version check, the events (seq
    // after the head, positions in transaction order) and the markers, which
    // are written only if the events are. Its first row carries the head;
    // no event row means the expected version did not match.
    c->prepare(
        "append",
        "with head as (select coalesce(max(seq), -1) as v, " + lease_held +
            " as leased from events where stream_id = $1), "
            "ins as (insert into events (global_position, stream_id, seq, type, version, tenant, "
            "recorded_at, payload) select " +
            tx_position +
            " + e.ord - 1, $1, head.v + e.ord, e.v->>'type', (e.v->>'version')::int, "
            "e.v->>'tenant', 'epoch'::timestamptz + (e.v->>'recorded_at')::bigint * "
            "interval '1 microsecond', ($4::text[])[e.ord]::json "
            "from head, json_array_elements($3::json) with ordinality as e(v, ord) "
            "where head.leased and ($2::bigint = " +
            std::to_string(events::any_version) +
            " or head.v = $2::bigint) order by e.ord "
            "returning global_position, seq), "
            "marked as (insert into markers (ns, key) select m->>0, m->>1 "
            "from jsonb_array_elements($5::jsonb) m where exists (select 1 from ins) "
            "on conflict do nothing) "
            "select head.v, ins.global_position, ins.seq, head.leased from head "
            "left join ins on true order by ins.seq");
    // Several appends to distinct streams as one statement: the same as
    // "append", with each event and marker naming its request (rq, from 1).
    c->prepare(
        "append_group",
        "with lease as (select ($5::text = '' or exists (select 1 from replicas where id = $5 "
        "and epoch = $6::bigint for key share)) as held), "
        "req as (select r.rq, r.v->>'s' as stream, (r.v->>'x')::bigint as expected, "
        "(select coalesce(max(seq), -1) from events where stream_id = r.v->>'s') as head "
        "from json_array_elements($1::json) with ordinality as r(v, rq)), "
        "ok as (select req.* from req, lease where lease.held and (expected = " +
            std::to_string(events::any_version) +
            " or head = expected)), "
            "ev as (select e.v, e.ord, (e.v->>'rq')::bigint as rq, "
            "row_number() over (partition by (e.v->>'rq')::bigint order by e.ord) as n "
            "from json_array_elements($2::json) with ordinality as e(v, ord)), "
            "ins as (insert into events (global_position, stream_id, seq, type, version, "
            "tenant, recorded_at, payload) select " +
            tx_position +
            " + ev.ord - 1, ok.stream, ok.head + ev.n, ev.v->>'type', "
            "(ev.v->>'version')::int, ev.v->>'tenant', 'epoch'::timestamptz + "
            "(ev.v->>'recorded_at')::bigint * interval '1 microsecond', "
            "($3::text[])[ev.ord]::json from ev join ok on ok.rq = ev.rq order by ev.ord "
            "returning global_position, stream_id, seq), "
            "marked as (insert into markers (ns, key) select distinct m->>0, m->>1 "
            "from jsonb_array_elements($4::jsonb) m join ok on ok.rq = (m->>2)::bigint "
            "on conflict do nothing) "
            "select req.rq, req.head, ins.global_position, ins.seq, lease.held from lease, req "
            "left join ins on ins.stream_id = req.stream order by req.rq, ins.seq");
    c->prepare("read", "select global_position, seq, type, version, tenant, "
                       "(extract(epoch from recorded_at) * 1000000)::bigint, payload::text "
                       "from events where stream_id = $1 and seq >= $2 order by seq limit $3");
    c->prepare("read_all",
               "select global_position, seq, type, version, tenant, "
               "(extract(epoch from recorded_at) * 1000000)::bigint, payload::text, stream_id "
               "from events where global_position > $1 and global_position < " +
                   read_horizon + " order by global_position limit $2");
    c->prepare("put_snapshot", "insert into snapshots (stream_id, seq, payload) select $1, $2, $3 "
                               "from " +
                                   lazily +
                                   " on conflict (stream_id) do update set seq = excluded.seq, "
                                   "payload = excluded.payload");
    // The lease: taken (from a previous incarnation of the same replica id
    // too, which is thereby fenced), renewed, and the markers of replicas
    // whose lease ran out moved to the one that claims them.
    c->prepare("lease_take",
               "insert into replicas (id, epoch, expires_at, config) values ($1, "
               "nextval('replica_epochs'), now() + $2::bigint * interval '1 millisecond', $3) "
               "on conflict (id) do update set epoch = excluded.epoch, expires_at = "
               "excluded.expires_at, config = excluded.config returning epoch");
    // Renewed, it also says how many other replicas hold a live lease (is
    // anyone there to tell about appends?), and which of them serve
    // differently.
    c->prepare("lease_renew",
               "update replicas me set expires_at = now() + $3::bigint * "
               "interval '1 millisecond' where me.id = $1 and me.epoch = $2 returning "
               "(select count(*) from replicas o where o.id <> $1 and o.expires_at > now()), "
               "(select coalesce(string_agg(o.id, chr(31) order by o.id), '') from replicas o "
               "where o.id <> $1 and o.expires_at > now() and o.config <> me.config)");
    c->prepare("lease_claim",
               "with me as (select 1 from replicas where id = $1 and epoch = $2), "
               "dead as (delete from replicas where expires_at < now() and id <> $1 "
               "and exists (select 1 from me) returning id), "
               "moved as (update markers set ns = $3 where exists (select 1 from me) and "
               "(ns = 'inflight' or (ns like 'inflight' || chr(31) || '%' and ns <> $3 and "
               "(substr(ns, 10) in (select id from dead) or "
               "substr(ns, 10) not in (select id from replicas)))) "
               "returning key) "
               "select key from moved");
    c->prepare("admit", "select riposte_admit($1, $2, $3::json, $4::bigint[])");
    c->prepare("lease_release", "delete from replicas where id = $1 and epoch = $2");
    c->prepare("lease_live", "select 1 from replicas where id = $1 and epoch = $2");
    // A finished response: two snapshots and its marker gone, one statement.
    c->prepare("put_snapshot_pair_unmark",
               "with gone as (delete from markers where ns = $7 and key = $8) "
               "insert into snapshots (stream_id, seq, payload) select v.s, v.q, v.p from " +
                   lazily +
                   ", (values ($1::text, $2::bigint, $3::text), ($4, $5, $6)) v(s, q, p) "
                   "on conflict (stream_id) do update set seq = excluded.seq, "
                   "payload = excluded.payload");
    c->prepare("put_marker",
               "insert into markers (ns, key) values ($1, $2) on conflict do nothing");
    c->prepare("put_marker_lazily", "insert into markers (ns, key) select $1, $2 from " + lazily +
                                        " on conflict do nothing");
    c->prepare("delete_marker", "delete from markers where ns = $1 and key = $2");
    c->prepare("delete_marker_lazily",
               "delete from markers using " + lazily + " where ns = $1 and key = $2");
    c->prepare("get_snapshot", "select seq, payload from snapshots where stream_id = $1");
    c->prepare("put_chunk", "insert into blobs (id, chunk, data) values ($1, $2, $3)");
    c->prepare("put_blob_meta", "insert into blob_meta (id, chunks, bytes) values ($1, $2, $3)");
    c->prepare("blob_meta", "select chunks from blob_meta where id = $1");
    c->prepare("get_chunk", "select data from blobs where id = $1 and chunk = $2");
    c->prepare("delete_chunks", "delete from blobs where id = $1");
    c->prepare("delete_meta", "delete from blob_meta where id = $1");
    return c;
  }

  std::string uri_;
  bool synchronous_;
  struct pooled {
    std::unique_ptr<pqxx::connection> c;
    std::uint64_t breaks_seen = 0; // breaks_ when it was last (re)connected
  };
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<pooled> idle_;
  std::atomic<std::uint64_t> breaks_{0}; // connections found broken so far
};

result<envelope> row_to_envelope(const pqxx::row& row, const std::string& stream) {
  auto data = events::parse_stored(row[6].as<std::string>());
  if (data.is_discarded() || !data.is_object())
    return make_error(riposte_errc::corrupt_event, "event " + stream + "#" +
                                                       row[1].as<std::string>() +
                                                       " has a payload that is not a JSON object");
  envelope env;
  env.stream = stream;
  env.global_position = row[0].as<std::uint64_t>();
  env.seq = row[1].as<std::uint64_t>();
  env.type = row[2].as<std::string>();
  env.version = row[3].as<int>();
  env.tenant = row[4].as<std::string>();
  env.recorded_at = row[5].as<std::int64_t>();
  env.data = std::move(data);
  return env;
}

// Events as a statement takes them: [{recorded_at, tenant, type, version,
// (rq)}, ...] as JSON text, and the data apart as an array of text (most
// events' data already is text): anything that reads a member of a json value
// has PostgreSQL unescape every string in it, and a string holding U+0000
// cannot be unescaped. Both are left open for more.
struct encoded_events {
  std::string meta = "[";
  std::string data = "{";
  std::size_t count = 0;

  void add(const events::new_event& ev, std::optional<std::size_t> request) {
    namespace jt = events::json_text;
    meta += count == 0 ? "{" : ",{";
    if (count > 0)
      data += ',';
    ++count;
    data += '"';
    for (char ch : events::data_text(ev)) {
      if (ch == '"' || ch == '\\')
        data += '\\';
      data += ch;
    }
    data += '"';
    jt::put_int(meta, "recorded_at", ev.recorded_at);
    if (request)
      jt::put_int(meta, "rq", static_cast<std::int64_t>(*request));
    jt::put_string(meta, "tenant", ev.tenant);
    jt::put_string(meta, "type", ev.type);
    jt::put_int(meta, "version", ev.version);
    meta += '}';
  }
};

// Markers as [[ns, key, (rq)], ...], left open for more.
void add_markers(std::string& out, const std::vector<events::marker_ref>& markers,
                 std::optional<std::size_t> request) {
  namespace jt = events::json_text;
  for (const auto& m : markers) {
    out += out.size() == 1 ? "[" : ",[";
    jt::put_quoted(out, m.ns);
    out += ',';
    jt::put_quoted(out, m.key);
    if (request)
      out += ',' + std::to_string(*request);
    out += ']';
  }
}

class postgres_log final : public events::marking_log {
public:
  postgres_log(std::unique_ptr<connection_pool> pool, std::string uri)
    : pool_(std::move(pool))
    , uri_(std::move(uri)) {}

  result<std::vector<envelope>>
  append_marked(const std::string& stream, std::int64_t expected_version,
                const std::vector<events::new_event>& evs,
                const std::vector<events::marker_ref>& markers) override {
    if (auto refused = refusal(stream, evs))
      return *refused;
    if (evs.empty())
      return std::vector<envelope>{};
    encoded_events enc;
    for (const auto& ev : evs)
      enc.add(ev, std::nullopt);
    auto batch = enc.meta + ']';
    auto data = enc.data + '}';
    // Without an expected version, losing a race for the next seq is no
    // conflict: try again on the new head.
    for (int attempt = 0;; ++attempt) {
      auto stored = append_once(stream, expected_version, evs, markers, batch, data);
      if (stored || expected_version != events::any_version ||
          stored.error().code != riposte_errc::version_conflict || attempt == 8)
        return stored;
    }
  }

  // Each round of a group (at most one append per stream, at most
  // max_events_per_transaction events) is one statement: one round trip, one
  // commit, one fsync for all of it. Should the statement fail as a whole
  // (another writer won a race on one of its streams, one append PostgreSQL
  // refuses), its appends are tried one by one, so each is answered as if it
  // were alone.
  std::vector<result<std::vector<envelope>>>
  append_many(const std::vector<append_request>& requests) override {
    std::vector<std::optional<result<std::vector<envelope>>>> out(requests.size());
    std::vector<std::vector<std::size_t>> rounds;
    std::unordered_map<std::string_view, std::size_t> per_stream;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const auto& r = requests[i];
      if (auto refused = refusal(r.stream, r.events)) {
        out[i] = *refused;
        continue;
      }
      if (r.events.empty()) {
        out[i] = std::vector<envelope>{};
        continue;
      }
      auto round = per_stream[r.stream]++;
      if (round == rounds.size())
        rounds.emplace_back();
      rounds[round].push_back(i);
    }
    for (const auto& round : rounds) {
      std::size_t begin = 0;
      while (begin < round.size()) {
        std::size_t end = begin;
        std::size_t events = 0;
        while (end < round.size() &&
               events + requests[round[end]].events.size() <= max_events_per_transaction)
          events += requests[round[end++]].events.size();
        std::vector<std::size_t> members(round.begin() + static_cast<std::ptrdiff_t>(begin),
                                         round.begin() + static_cast<std::ptrdiff_t>(end));
        if (members.size() < 2 || !append_group(requests, members, out))
          for (auto i : members)
            out[i] = append_marked(requests[i].stream, requests[i].expected_version,
                                   requests[i].events, requests[i].markers);
        begin = end;
      }
    }
    std::vector<result<std::vector<envelope>>> answers;
    answers.reserve(out.size());
    for (auto& o : out)
      answers.push_back(std::move(*o));
    return answers;
  }

  bool group_commits() const override { return true; }

  std::string inflight_namespace() const override {
    return lease_id_.empty() ? events::event_log::inflight_namespace()
                             : events::event_log::inflight_namespace() + '\x1f' + lease_id_;
  }

  // Takes the lease of replica `id` (ending any earlier holder's) for
  // `lease_ms`; from now on every append checks it.
  events::status take_lease(const std::string& id, long lease_ms, const std::string& config) {
    try {
      auto epoch = pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        return n.exec_prepared1("lease_take", id, static_cast<std::int64_t>(lease_ms), config)[0]
            .as<std::int64_t>();
      });
      lease_id_ = id;
      lease_ms_ = lease_ms;
      lease_epoch_ = epoch;
      // Appends are news for followers on other replicas (until a renewal
      // says there are none).
      news_ = std::make_unique<news_sender>(uri_, origin());
      return events::ok();
    } catch (const std::exception& ex) {
      return pg_error("taking the replica lease '" + id + "'", ex);
    }
  }

  result<bool> renew_lease() override {
    if (lease_id_.empty())
      return true;
    try {
      auto hellos = hellos_.load();
      return pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        auto rows = n.exec_prepared("lease_renew", lease_id_, lease_epoch_.load(),
                                    static_cast<std::int64_t>(lease_ms_));
        if (rows.size() != 1)
          return false;
        // A hello heard meanwhile came from a replica this count may miss.
        peers_ = rows[0][0].as<std::int64_t>() > 0 || hellos_.load() != hellos;
        std::vector<std::string> differing;
        auto ids = rows[0][1].as<std::string>();
        for (std::size_t at = 0; !ids.empty() && at <= ids.size();) {
          auto end = std::min(ids.find('\x1f', at), ids.size());
          differing.push_back(ids.substr(at, end - at));
          at = end + 1;
        }
        std::lock_guard guard{differing_mutex_};
        differing_ = std::move(differing);
        return true;
      });
    } catch (const std::exception& ex) {
      return pg_error("renewing the replica lease", ex);
    }
  }

  result<std::vector<std::string>> claim_orphans() override {
    if (lease_id_.empty())
      return std::vector<std::string>{};
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        std::vector<std::string> keys;
        for (const auto& row :
             n.exec_prepared("lease_claim", lease_id_, lease_epoch_.load(), inflight_namespace()))
          keys.push_back(row[0].as<std::string>());
        return keys;
      });
    } catch (const std::exception& ex) {
      return pg_error("claiming the work of replicas whose lease ran out", ex);
    }
  }

  // A session-level advisory lock on a connection of its own (the pool's
  // are needed by the holder meanwhile), which closing the connection ends.
  result<std::unique_ptr<held_lock>> lock(const std::string& name) override {
    struct session_lock final : held_lock {
      std::unique_ptr<pqxx::connection> c;
      ~session_lock() override {
        try {
          c.reset();
        } catch (...) {
          // The server ends the session, and with it the lock.
        }
      }
    };
    try {
      auto held = std::make_unique<session_lock>();
      held->c = std::make_unique<pqxx::connection>(watched_uri(uri_));
      pqxx::nontransaction n{*held->c};
      // Long enough for another replica's upload of a large file to finish.
      n.exec("set lock_timeout = '10min'");
      n.exec_params("select pg_advisory_lock(hashtextextended($1, 0))", "riposte:" + name);
      return std::unique_ptr<held_lock>{std::move(held)};
    } catch (const std::exception& ex) {
      return pg_error("taking the lock '" + name + "'", ex);
    }
  }

  bool shares_admission() const override { return !lease_id_.empty(); }
  bool has_peers() const override { return !lease_id_.empty() && peers_.load(); }

  result<events::admission> admit(const std::vector<events::waiting_job>& arrived,
                                  const std::vector<std::uint64_t>& ended) override {
    json jobs = json::array();
    for (const auto& job : arrived) {
      json names = json::array(), counts = json::array();
      for (const auto& [name, count] : job.limits) {
        names.push_back(name);
        counts.push_back(count);
      }
      jobs.push_back({{"t", job.ticket},
                      {"n", job.tenant},
                      {"s", job.asked_at_us},
                      {"k", names},
                      {"l", counts}});
    }
    std::string gone = "{";
    for (auto t : ended)
      gone += (gone.size() > 1 ? "," : "") + std::to_string(t);
    gone += "}";
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        auto row = n.exec_prepared1("admit", lease_id_, lease_epoch_.load(),
                                    events::dump_json(jobs), gone);
        auto answer = json::parse(row[0].as<std::string>());
        events::admission out;
        for (const auto& t : answer.at("admitted"))
          out.admitted.push_back(t.get<std::uint64_t>());
        out.others_waiting = answer.at("others_waiting").get<bool>();
        return out;
      });
    } catch (const std::exception& ex) {
      return pg_error("admitting generations", ex);
    }
  }

  std::vector<std::string> differing_replicas() const override {
    std::lock_guard guard{differing_mutex_};
    return differing_;
  }

  std::string lease_holder() const override { return lease_id_.empty() ? "" : origin(); }

  result<bool> lease_held(const std::string& holder) override {
    auto slash = holder.rfind('/');
    if (slash == std::string::npos || slash + 1 == holder.size() || slash + 19 < holder.size() ||
        holder.find_first_not_of("0123456789", slash + 1) != std::string::npos)
      return false; // not a lease any replica writes
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        return !n.exec_prepared("lease_live", holder.substr(0, slash),
                                std::stoll(holder.substr(slash + 1)))
                    .empty();
      });
    } catch (const std::exception& ex) {
      return pg_error("checking the lease of replica '" + holder + "'", ex);
    }
  }

  std::unique_ptr<events::news_subscription>
  subscribe_news(std::function<void(std::vector<events::log_news>)> on_news) override {
    if (lease_id_.empty())
      return nullptr;
    // A replica that speaks is there: tell it this one's appends from now
    // on (the next renewal counts it too).
    return listen_news(uri_, origin(), std::move(on_news), [this] {
      ++hellos_;
      peers_ = true;
    });
  }

  void tell(const events::log_news& news) override {
    if (news_)
      news_->send({news});
  }

  // At a clean stop the lease ends at once: what this process left
  // unfinished is claimed by the next claim, not after the lease runs out.
  ~postgres_log() override {
    news_.reset();
    if (lease_id_.empty())
      return;
    try {
      pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        n.exec_prepared0("lease_release", lease_id_, lease_epoch_.load());
      });
    } catch (const std::exception&) {
      // It runs out by itself.
    }
  }

private:
  static std::optional<events::error_info> refusal(const std::string& stream,
                                                   const std::vector<events::new_event>& evs) {
    if (auto ok = check_stream_name(stream); !ok)
      return ok.error();
    for (const auto& ev : evs)
      if (auto valid = events::validate(ev); !valid)
        return valid.error();
    if (evs.size() > max_events_per_transaction)
      return make_error(riposte_errc::invalid_value,
                        "an append of " + std::to_string(evs.size()) +
                            " events: PostgreSQL takes at most " +
                            std::to_string(max_events_per_transaction) + " at once");
    return std::nullopt;
  }

  // One statement for appends to distinct streams; false when it failed as a
  // whole (nothing of it was written).
  bool append_group(const std::vector<append_request>& requests,
                    const std::vector<std::size_t>& members,
                    std::vector<std::optional<result<std::vector<envelope>>>>& out) {
    namespace jt = events::json_text;
    std::string heads = "[";
    encoded_events enc;
    std::string pairs = "[";
    for (std::size_t k = 0; k < members.size(); ++k) {
      const auto& r = requests[members[k]];
      heads += k == 0 ? "{" : ",{";
      jt::put_string(heads, "s", r.stream);
      jt::put_int(heads, "x", r.expected_version);
      heads += '}';
      for (const auto& ev : r.events)
        enc.add(ev, k + 1);
      add_markers(pairs, r.markers, k + 1);
    }
    heads += ']';
    pairs += ']';
    try {
      auto rows = pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        return n.exec_prepared("append_group", heads, enc.meta + ']', enc.data + '}', pairs,
                               lease_id_, lease_epoch_.load());
      });
      if (!rows.empty() && !rows[0][4].as<bool>()) {
        for (auto i : members)
          out[i] = fenced();
        return true;
      }
      // Rows come by request, then seq: the head, then what was stored.
      std::size_t row = 0;
      std::vector<events::log_news> told;
      for (std::size_t k = 0; k < members.size(); ++k) {
        const auto& r = requests[members[k]];
        if (row >= rows.size() || rows[row][0].as<std::size_t>() != k + 1)
          throw std::runtime_error("the group append answered out of order");
        if (rows[row][2].is_null()) {
          out[members[k]] =
              version_conflict(r.stream, r.expected_version, rows[row][1].as<std::int64_t>());
          ++row;
          continue;
        }
        std::vector<envelope> stored;
        stored.reserve(r.events.size());
        for (const auto& ev : r.events) {
          if (row >= rows.size() || rows[row][0].as<std::size_t>() != k + 1)
            throw std::runtime_error("the group append answered too few rows");
          stored.push_back(envelope{r.stream, rows[row][3].as<std::uint64_t>(),
                                    rows[row][2].as<std::uint64_t>(), ev.type, ev.version,
                                    ev.tenant, ev.recorded_at,
                                    r.echo_data ? events::data_json(ev) : nlohmann::json{}});
          ++row;
        }
        told.push_back({events::log_news::kind::appended, r.stream, stored.back().seq, {}});
        out[members[k]] = std::move(stored);
      }
      publish(std::move(told));
      return true;
    } catch (const pqxx::sql_error&) {
      // The statement failed, so nothing of it was written: the appends one
      // by one say what each one meets.
      for (auto i : members)
        out[i].reset();
      return false;
    } catch (const std::exception& ex) {
      // The connection broke (the group may or may not be stored) or the
      // answer made no sense: never write it a second time.
      for (auto i : members)
        out[i] = pg_error("appending a group of " + std::to_string(members.size()), ex);
      return true;
    }
  }

  result<std::vector<envelope>> append_once(const std::string& stream,
                                            std::int64_t expected_version,
                                            const std::vector<events::new_event>& evs,
                                            const std::vector<events::marker_ref>& markers,
                                            const std::string& batch, const std::string& data) {
    try {
      return pool_->with([&](pqxx::connection& c) -> result<std::vector<envelope>> {
        std::string pairs = "[";
        add_markers(pairs, markers, std::nullopt);
        pairs += ']';
        // Appenders run side by side: the unique (stream_id, seq) settles a
        // race on one stream, and positions follow transaction order (see
        // read_horizon), so no lock is held through anyone's commit.
        pqxx::nontransaction n{c};
        auto rows = n.exec_prepared("append", stream, expected_version, batch, data, pairs,
                                    lease_id_, lease_epoch_.load());
        if (!rows.empty() && !rows[0][3].as<bool>())
          return fenced();
        if (rows.empty() || rows[0][1].is_null())
          return version_conflict(stream, expected_version,
                                  rows.empty() ? -1 : rows[0][0].as<std::int64_t>());
        std::vector<envelope> stored;
        stored.reserve(evs.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
          const auto& ev = evs[i];
          stored.push_back(envelope{stream, rows[i][2].as<std::uint64_t>(),
                                    rows[i][1].as<std::uint64_t>(), ev.type, ev.version, ev.tenant,
                                    ev.recorded_at, events::data_json(ev)});
        }
        publish({{events::log_news::kind::appended, stream, stored.back().seq, {}}});
        return stored;
      });
    } catch (const pqxx::unique_violation&) {
      return make_error(riposte_errc::version_conflict,
                        "stream '" + stream + "' was appended to concurrently");
    } catch (const std::exception& ex) {
      return pg_error("appending to '" + stream + "'", ex);
    }
  }

public:
  result<std::int64_t> version(const std::string& stream) override {
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::read_transaction r{c};
        return r.exec_prepared1("head", stream)[0].as<std::int64_t>();
      });
    } catch (const std::exception& ex) {
      return pg_error("reading the head of '" + stream + "'", ex);
    }
  }

  result<std::vector<envelope>> read(const std::string& stream, std::uint64_t from_seq,
                                     std::size_t limit) override {
    if (auto ok = check_stream_name(stream); !ok)
      return ok.error();
    try {
      return pool_->with([&](pqxx::connection& c) -> result<std::vector<envelope>> {
        pqxx::read_transaction r{c};
        auto head = r.exec_prepared1("head", stream)[0].as<std::int64_t>();
        if (head < 0)
          return make_error(riposte_errc::not_found, "stream '" + stream + "' does not exist");
        auto rows = r.exec_prepared("read", stream, static_cast<std::int64_t>(from_seq),
                                    static_cast<std::int64_t>(limit));
        std::vector<envelope> out;
        out.reserve(rows.size());
        for (const auto& row : rows) {
          auto env = row_to_envelope(row, stream);
          if (!env)
            return env.error();
          out.push_back(std::move(*env));
        }
        return out;
      });
    } catch (const std::exception& ex) {
      return pg_error("reading '" + stream + "'", ex);
    }
  }

  result<std::vector<envelope>> read_all(std::uint64_t after, std::size_t limit) override {
    try {
      return pool_->with([&](pqxx::connection& c) -> result<std::vector<envelope>> {
        pqxx::read_transaction r{c};
        auto rows = r.exec_prepared("read_all", static_cast<std::int64_t>(after),
                                    static_cast<std::int64_t>(limit));
        std::vector<envelope> out;
        out.reserve(rows.size());
        for (const auto& row : rows) {
          auto env = row_to_envelope(row, row[7].as<std::string>());
          if (!env)
            return env.error();
          out.push_back(std::move(*env));
        }
        return out;
      });
    } catch (const std::exception& ex) {
      return pg_error("reading the audit feed", ex);
    }
  }

  events::status put_snapshot(const std::string& stream, const events::snapshot& snap) override {
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        n.exec_prepared0("put_snapshot", stream, static_cast<std::int64_t>(snap.seq), snap.payload);
        return events::ok();
      });
    } catch (const std::exception& ex) {
      return pg_error("writing a snapshot", ex);
    }
  }

  events::status put_snapshots(const std::vector<std::pair<std::string, events::snapshot>>& snaps,
                               const std::optional<events::marker_ref>& unmark) override {
    if (snaps.size() != 2 || !unmark || snaps[0].first == snaps[1].first)
      return event_log::put_snapshots(snaps, unmark);
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        n.exec_prepared0("put_snapshot_pair_unmark", snaps[0].first,
                         static_cast<std::int64_t>(snaps[0].second.seq), snaps[0].second.payload,
                         snaps[1].first, static_cast<std::int64_t>(snaps[1].second.seq),
                         snaps[1].second.payload, unmark->ns, unmark->key);
        return events::ok();
      });
    } catch (const std::exception& ex) {
      return pg_error("writing snapshots", ex);
    }
  }

  result<std::optional<events::snapshot>> get_snapshot(const std::string& stream) override {
    try {
      return pool_->with([&](pqxx::connection& c) -> result<std::optional<events::snapshot>> {
        pqxx::read_transaction r{c};
        auto rows = r.exec_prepared("get_snapshot", stream);
        if (rows.empty())
          return std::optional<events::snapshot>{};
        return std::optional<events::snapshot>{
            events::snapshot{rows[0][0].as<std::uint64_t>(), rows[0][1].as<std::string>()}};
      });
    } catch (const std::exception& ex) {
      return pg_error("reading a snapshot", ex);
    }
  }

  events::status put_blob(const std::string& id, const events::chunk_source& source) override {
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::work w{c};
        w.exec_prepared0("delete_chunks", id);
        w.exec_prepared0("delete_meta", id);
        int chunks = 0;
        std::int64_t bytes = 0;
        while (auto chunk = source()) {
          pqxx::binarystring data{chunk->data(), chunk->size()};
          w.exec_prepared0("put_chunk", id, chunks, data);
          ++chunks;
          bytes += static_cast<std::int64_t>(chunk->size());
        }
        w.exec_prepared0("put_blob_meta", id, chunks, bytes);
        w.commit();
        return events::ok();
      });
    } catch (const std::exception& ex) {
      return pg_error("writing blob '" + id + "'", ex);
    }
  }

  events::status get_blob(const std::string& id, const events::chunk_sink& sink) override {
    try {
      return pool_->with([&](pqxx::connection& c) -> events::status {
        pqxx::read_transaction r{c};
        auto meta = r.exec_prepared("blob_meta", id);
        if (meta.empty())
          return make_error(riposte_errc::not_found, "no blob '" + id + "'");
        auto chunks = meta[0][0].as<int>();
        for (int i = 0; i < chunks; ++i) {
          auto row = r.exec_prepared1("get_chunk", id, i);
          pqxx::binarystring data{row[0]};
          if (!sink(std::string_view{data.get(), data.size()}))
            break;
        }
        return events::ok();
      });
    } catch (const std::exception& ex) {
      return pg_error("reading blob '" + id + "'", ex);
    }
  }

  events::result<std::optional<std::string>> read_blob_chunk(const std::string& id,
                                                             std::uint64_t index) override {
    try {
      return pool_->with([&](pqxx::connection& c) -> events::result<std::optional<std::string>> {
        pqxx::read_transaction r{c};
        auto meta = r.exec_prepared("blob_meta", id);
        if (meta.empty())
          return make_error(riposte_errc::not_found, "no blob '" + id + "'");
        if (index >= meta[0][0].as<std::uint64_t>())
          return std::optional<std::string>{};
        auto row = r.exec_prepared1("get_chunk", id, static_cast<long long>(index));
        pqxx::binarystring data{row[0]};
        return std::optional<std::string>{std::string{data.get(), data.size()}};
      });
    } catch (const std::exception& ex) {
      return pg_error("reading blob '" + id + "'", ex);
    }
  }

  events::status delete_blob(const std::string& id) override {
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::work w{c};
        w.exec_prepared0("delete_meta", id);
        w.exec_prepared0("delete_chunks", id);
        w.commit();
        return events::ok();
      });
    } catch (const std::exception& ex) {
      return pg_error("deleting blob '" + id + "'", ex);
    }
  }

  events::status put_marker(const std::string& ns, const std::string& key,
                            write_mode mode = write_mode::durable) override {
    return exec_status("writing a marker", "put_marker", ns, key, mode);
  }

  events::status delete_marker(const std::string& ns, const std::string& key,
                               write_mode mode = write_mode::durable) override {
    return exec_status("deleting a marker", "delete_marker", ns, key, mode);
  }

  result<bool> has_marker(const std::string& ns, const std::string& key) override {
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::read_transaction r{c};
        return !r.exec_params("select 1 from markers where ns = $1 and key = $2", ns, key).empty();
      });
    } catch (const std::exception& ex) {
      return pg_error("reading a marker", ex);
    }
  }

  result<std::vector<std::string>> list_markers(const std::string& ns) override {
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::read_transaction r{c};
        std::vector<std::string> out;
        for (const auto& row : r.exec_params("select key from markers where ns = $1", ns))
          out.push_back(row[0].as<std::string>());
        return out;
      });
    } catch (const std::exception& ex) {
      return pg_error("listing markers", ex);
    }
  }

private:
  // One statement, one round trip. A lazy one does not wait for the disk:
  // WAL is written in order, so a later synchronous commit flushes it too.
  events::status exec_status(const std::string& what, const std::string& statement,
                             const std::string& a, const std::string& b, write_mode mode) {
    try {
      return pool_->with([&](pqxx::connection& c) {
        pqxx::nontransaction n{c};
        n.exec_prepared0(mode == write_mode::lazy ? statement + "_lazily" : statement, a, b);
        return events::ok();
      });
    } catch (const std::exception& ex) {
      return pg_error(what, ex);
    }
  }

  // This process's name in news: its replica id and lease epoch.
  std::string origin() const { return lease_id_ + '/' + std::to_string(lease_epoch_.load()); }

  // Appends are told only while another replica may follow them.
  void publish(std::vector<events::log_news> news) {
    if (news_ && peers_)
      news_->send(std::move(news));
  }

  static events::error_info fenced() {
    return make_error(riposte_errc::store_error,
                      "this replica's lease was taken over by another process: it may not "
                      "write any more (see \"Replicas\" in the README)");
  }

  std::unique_ptr<connection_pool> pool_;
  std::string lease_id_; // empty: no lease, appends are not fenced
  // Live replicas whose config differs from this one's, as the last
  // renewal found them.
  mutable std::mutex differing_mutex_;
  std::vector<std::string> differing_;
  long lease_ms_ = 0;
  std::atomic<std::int64_t> lease_epoch_{0};
  std::string uri_;
  std::unique_ptr<news_sender> news_;
  std::atomic<bool> peers_{true}; // until a renewal says otherwise; a peer's news says so
  std::atomic<std::uint64_t> hellos_{0}; // news heard from peers
};

void migrate(const std::string& uri) {
  pqxx::connection c{uri};
  pqxx::work w{c};
  w.exec("select pg_advisory_xact_lock(" + std::to_string(migration_lock) + ")");
  w.exec("create table if not exists schema_migrations (version int primary key, "
         "applied_at timestamptz not null default now())");
  auto applied = w.exec("select coalesce(max(version), 0) from schema_migrations")[0][0].as<int>();
  for (const auto& [version, sql] : migrations()) {
    if (version <= applied)
      continue;
    w.exec(sql);
    w.exec("insert into schema_migrations (version) values (" + std::to_string(version) + ")");
  }
  // A database restored into another cluster (pg_dump) keeps its positions
  // but not the cluster's transaction ids, which may start lower: lift the
  // base so that new positions stay above every stored one.
  w.exec(
      "update log_meta set position_base = position_base + m.top - " + tx_position +
      " + 1 from (select max(global_position) as top from events) m where m.top >= " + tx_position);
  w.commit();
}

} // namespace

result<std::unique_ptr<events::event_log>> open_postgres_log(const std::string& uri,
                                                             std::size_t pool_size,
                                                             sync_policy sync,
                                                             const replica_lease& lease) {
  try {
    migrate(uri);
    auto pool = std::make_unique<connection_pool>(uri, pool_size == 0 ? 1 : pool_size,
                                                  sync == sync_policy::always);
    auto log = std::make_unique<postgres_log>(std::move(pool), uri);
    if (!lease.id.empty())
      if (auto taken = log->take_lease(lease.id, lease.lease_ms, lease.config); !taken)
        return taken.error();
    return std::unique_ptr<events::event_log>{std::move(log)};
  } catch (const std::exception& ex) {
    return pg_error("cannot open PostgreSQL store", ex);
  }
}

} // namespace riposte::adapters::store
