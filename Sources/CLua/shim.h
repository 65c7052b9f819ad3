#ifndef RUNNER_CLUA_SHIM_H
#define RUNNER_CLUA_SHIM_H
#include <stdlib.h>
#include <time.h>

// Lua 5.4 for Swift. Swift cannot see function-like macros, so they are
// re-exposed as static inline functions. The other job of this header is to
// keep lua_error's longjmp out of Swift frames: Swift functions called from Lua
// go through runner_lua_trampoline, which raises the error in C after the
// Swift frame has returned.

#include <lua5.4/lua.h>
#include <lua5.4/lualib.h>
#include <lua5.4/lauxlib.h>

static inline int runner_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int runner_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline void runner_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void runner_lua_newtable(lua_State *L) { lua_newtable(L); }
static inline void runner_lua_insert(lua_State *L, int idx) { lua_insert(L, idx); }
static inline void runner_lua_remove(lua_State *L, int idx) { lua_remove(L, idx); }
static inline int runner_lua_isnoneornil(lua_State *L, int idx) { return lua_isnoneornil(L, idx); }
static inline const char *runner_lua_tolstring(lua_State *L, int idx, size_t *len) {
    return lua_tolstring(L, idx, len);
}
static inline lua_Integer runner_lua_tointegerx(lua_State *L, int idx, int *isnum) {
    return lua_tointegerx(L, idx, isnum);
}
static inline int runner_lua_loadbuffer(lua_State *L, const char *buf, size_t len, const char *name) {
    return luaL_loadbufferx(L, buf, len, name, "t");
}
static inline void **runner_lua_extraspace(lua_State *L) { return (void **)lua_getextraspace(L); }

/// The allocator of a state with a memory budget: an allocation past `limit` bytes in
/// all fails, which Lua raises as "not enough memory" (a script that builds a huge
/// string is an error, not a process the kernel kills).
typedef struct { size_t used, limit; } runner_lua_budget;

static void *runner_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    runner_lua_budget *budget = (runner_lua_budget *)ud;
    if (ptr == NULL) osize = 0;  // then osize is the kind of object, not a size
    if (nsize == 0) {
        free(ptr);
        budget->used -= osize;
        return NULL;
    }
    if (nsize > osize && budget->used + (nsize - osize) > budget->limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (p != NULL) budget->used = budget->used - osize + nsize;
    return p;
}

static int runner_lua_panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    lua_writestringerror("lua: unprotected error: %s\n", msg ? msg : "(not a string)");
    return 0;  // then Lua aborts
}

static inline lua_State *runner_lua_newstate(runner_lua_budget *budget) {
    lua_State *L = lua_newstate(runner_lua_alloc, budget);
    if (L != NULL) lua_atpanic(L, runner_lua_panic);
    return L;
}

/// Message handler for lua_pcall: adds a traceback (as lua.c does).
static int runner_lua_msgh(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/// lua_pcall with runner_lua_msgh installed under the function.
static inline int runner_lua_pcall(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, runner_lua_msgh);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

/// A call that runs past its deadline (CLOCK_MONOTONIC seconds, kept in the registry)
/// raises "timed out" from a count hook, every 10,000 instructions: a Lua action with
/// a loop that never ends cannot hold a receiver session forever.
static void runner_lua_deadline_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_getfield(L, LUA_REGISTRYINDEX, "runner.deadline");
    double deadline = lua_tonumber(L, -1);
    lua_pop(L, 1);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (deadline > 0 && (double)now.tv_sec + (double)now.tv_nsec / 1e9 > deadline) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "runner.timedout");
        luaL_error(L, "timed out");
    }
}

/// Whether the last call was stopped at its deadline; clears the mark.
static inline int runner_lua_timedout(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, "runner.timedout");
    int timedout = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "runner.timedout");
    return timedout;
}

/// Sets the deadline of the calls that follow (0: none).
static inline void runner_lua_setdeadline(lua_State *L, double deadline) {
    lua_pushnumber(L, deadline);
    lua_setfield(L, LUA_REGISTRYINDEX, "runner.deadline");
    if (deadline > 0) lua_sethook(L, runner_lua_deadline_hook, LUA_MASKCOUNT, 10000);
    else lua_sethook(L, NULL, 0, 0);
}

/// A Swift function callable from Lua. Returns the number of results it
/// pushed, or -1 after pushing an error message: the trampoline then raises it.
typedef int (*runner_lua_SwiftFunction)(lua_State *L);

static int runner_lua_trampoline(lua_State *L) {
    runner_lua_SwiftFunction fn = (runner_lua_SwiftFunction)lua_touserdata(L, lua_upvalueindex(1));
    int n = fn(L);
    if (n < 0) return lua_error(L);
    return n;
}

/// Pushes a closure that calls `fn` with upvalue 2 = `id` (which Swift closure to run).
static inline void runner_lua_pushswiftfunction(lua_State *L, runner_lua_SwiftFunction fn, lua_Integer id) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushinteger(L, id);
    lua_pushcclosure(L, runner_lua_trampoline, 2);
}

/// Source ("@file", "=name" or the chunk text) and current line of the function
/// running at `level` (0 = current, 1 = its caller). Returns -1 when there is no such level.
static inline int runner_lua_where(lua_State *L, int level, const char **source) {
    lua_Debug ar;
    if (!lua_getstack(L, level, &ar)) return -1;
    if (!lua_getinfo(L, "Sl", &ar)) return -1;
    *source = ar.source;
    return ar.currentline;
}

/// Where a Lua function was defined (line and source), for explaining predicates.
static inline int runner_lua_functiondefined(lua_State *L, int idx, const char **source) {
    lua_Debug ar;
    lua_pushvalue(L, idx);
    if (!lua_getinfo(L, ">S", &ar)) return -1;
    *source = ar.source;
    return ar.linedefined;
}

#endif
