/* smp.h: helpers of the multi-threaded guest programs (litmus.c, par.c): how
 * many CPUs the guest has, pinning a thread to one, and a spin-wait that
 * gives the CPU away when there are more threads than CPUs. Include it
 * first, after defining _GNU_SOURCE. */
#ifndef TERN_GUEST_SMP_H
#define TERN_GUEST_SMP_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>

/* CPUs this process may run on (what nproc prints). */
static inline int smp_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

/* Pins the calling thread to `cpu`; returns 0 or an errno value. */
static inline int smp_pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Waits until *p >= v (acquire). With fewer CPUs than threads a spinning
 * thread would hold the CPU its partner needs, so it yields now and then. */
static inline void smp_wait_ge(const uint32_t *p, uint32_t v, int yield)
{
    unsigned spins = 0;
    while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < v)
        if (yield && ++spins % 64 == 0)
            sched_yield();
}

#endif
