/*
 * lmdb_copy: what copying 100,000 index-sized entries from one LMDB database into an empty
 * one costs on this machine, without Strata (the work of a snapshot save or restore; see
 * docs/PERFORMANCE.md, "Snapshot save and restore"). Same flags as the index (MDB_NOTLS,
 * MDB_NOSYNC, MDB_NORDAHEAD); keys like object names, 220-byte values; three rounds.
 *
 *   cc -O2 -o /tmp/lmdb_copy Tools/bench/lmdb_copy.c -llmdb && /tmp/lmdb_copy /tmp/lmdb-copy-dir
 */
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <stdlib.h>
#include <sys/stat.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
#define C(x) do{int rc=(x); if(rc){fprintf(stderr,"%s: %s\n",#x,mdb_strerror(rc));exit(1);}}while(0)
int main(int argc, char **argv){
 MDB_env*env; C(mdb_env_create(&env)); mdb_env_set_mapsize(env,1UL<<34); mdb_env_set_maxdbs(env,300);
 if (argc < 2) { fprintf(stderr, "usage: lmdb_copy EMPTY_DIR\n"); return 2; }
 mkdir(argv[1], 0755);
 C(mdb_env_open(env,argv[1],MDB_NOTLS|MDB_NOSYNC|MDB_NORDAHEAD,0644));
 MDB_txn*t; MDB_dbi a,b; C(mdb_txn_begin(env,0,0,&t)); C(mdb_dbi_open(t,"objects",MDB_CREATE,&a)); C(mdb_dbi_open(t,"snap.objects",MDB_CREATE,&b));
 char k[64],v[220]; memset(v,7,sizeof v);
 for(int i=0;i<100000;i++){int n=snprintf(k,64,"\x06" "bucket" "some/prefix/key-%08d",i); MDB_val mk={n,k},mv={sizeof v,v}; C(mdb_put(t,a,&mk,&mv,0));}
 C(mdb_txn_commit(t));
 for(int round=0;round<3;round++){
 double s=now();
 C(mdb_txn_begin(env,0,0,&t)); C(mdb_drop(t,b,0));
 MDB_cursor*c,*w; C(mdb_cursor_open(t,a,&c)); C(mdb_cursor_open(t,b,&w)); MDB_val mk,mv; int rc=mdb_cursor_get(c,&mk,&mv,MDB_FIRST); int n=0;
 while(rc==0){ C(mdb_cursor_put(w,&mk,&mv,MDB_APPEND)); n++; rc=mdb_cursor_get(c,&mk,&mv,MDB_NEXT);}
 double m=now(); C(mdb_txn_commit(t)); double e=now(); printf("loop %.1f commit %.1f ", (m-s)*1000,(e-m)*1000); printf("copy %d in %.1f ms\n",n,(e-s)*1000);
 }
}
