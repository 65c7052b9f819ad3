#if canImport(Glibc)
    import Glibc
#endif

/// Values made once and shared by every thread that asks for the same key (a delta that a
/// hundred hosts holding the same file all need): the first caller makes it while the
/// others wait for it, not beside it. Kept up to `limit` of `cost`, the oldest forgotten
/// first. A value its maker fails to make is made by the next waiter.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    // @unchecked: every stored property but the constants is read and written only with
    // `mutex` held (`lock()`/`unlock()` around each access below); the condition variable
    // is used only with that mutex.
    private enum Slot {
        case making
        case made(Value, cost: Int)
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var slots: [Key: Slot] = [:]
    /// Made keys, oldest first (a key made again after being forgotten comes again).
    private var order: [Key] = []
    private var first = 0
    private var total = 0
    private let limit: Int
    private let cost: @Sendable (Value) -> Int

    /// Values whose costs add up to at most `limit` are kept.
    public init(limit: Int, cost: @escaping @Sendable (Value) -> Int) {
        self.limit = limit
        self.cost = cost
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// The value of `key`: made by `make` when nobody has (or is making) it, else the one
    /// made, waited for while it is being made. An error `make` throws goes to its caller only.
    public func value<E: Error>(_ key: Key, make: () throws(E) -> Value) throws(E) -> Value {
        pthread_mutex_lock(mutex)
        while true {
            switch slots[key] {
            case .made(let value, _)?:
                pthread_mutex_unlock(mutex)
                return value
            case .making?:
                pthread_cond_wait(changed, mutex)
            case nil:
                slots[key] = .making
                pthread_mutex_unlock(mutex)
                return try makeShared(key, make)
            }
        }
    }

    private func makeShared<E: Error>(_ key: Key, _ make: () throws(E) -> Value) throws(E) -> Value {
        var made: Value?
        defer {
            pthread_mutex_lock(mutex)
            if let made {
                let c = cost(made)
                if c <= limit {
                    slots[key] = .made(made, cost: c)
                    order.append(key)
                    total += c
                    forgetOldest()
                } else {
                    slots[key] = nil
                }
            } else {
                // Failed: the next waiter makes it.
                slots[key] = nil
            }
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        let value = try make()
        made = value
        return value
    }

    /// Forgets made values, oldest first, until the rest fit the limit (mutex held).
    private func forgetOldest() {
        while total > limit, first < order.count {
            let key = order[first]
            first += 1
            if case .made(_, let c)? = slots[key] {
                slots[key] = nil
                total -= c
            }
        }
        if first > 1024 && first * 2 > order.count {
            order.removeFirst(first)
            first = 0
        }
    }

    /// The costs of the values kept.
    public var keptCost: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return total
    }
}
