// The status the test kubelet stand-in reports for a pod (scripts/infra/kubelet-standin/pod.ts), as
// the kubelet writes it through pods/status: phase, conditions and the one container's state.
import type * as k8s from '@kubernetes/client-node';

/** The node's and every pod's address: pods run in the host's network. */
export const IP = '127.0.0.1';

export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** What a pod's worker knows of it now. */
export interface PodState {
  phase: Phase;
  run?: { startedAt: Date; containerID: string };
  restartCount: number;
  waiting?: { reason: string; message?: string };
  terminated?: k8s.V1ContainerStateTerminated;
  lastTerminated?: k8s.V1ContainerStateTerminated;
  ready: boolean;
  failure?: { reason: string; message: string };
  startTime: Date;
}

/** `transitions` keeps each condition's last change across reports. */
export function podStatus(c: k8s.V1Container | undefined, s: PodState, transitions: Map<string, { status: string; at: Date }>): k8s.V1PodStatus {
  const t = new Date();
  const terminal = s.phase === 'Succeeded' || s.phase === 'Failed';
  const cond = (type: string, ok: boolean, reason?: string): k8s.V1PodCondition => {
    // lastTransitionTime moves only when the condition's status does, as the kubelet keeps it.
    const status = ok ? 'True' : 'False';
    const prev = transitions.get(type);
    const since = prev?.status === status ? prev.at : t;
    transitions.set(type, { status, at: since });
    return { type, status, lastTransitionTime: since, ...(reason ? { reason } : {}) };
  };
  const ready = s.ready && !!s.run;
  const state: k8s.V1ContainerState = s.run ? { running: { startedAt: s.run.startedAt } } : s.terminated ? { terminated: s.terminated } : { waiting: s.waiting ?? { reason: 'ContainerCreating' } };
  const cs: k8s.V1ContainerStatus | undefined = c && {
    name: c.name,
    image: c.image ?? '',
    imageID: `standin://${c.image ?? ''}`,
    ready,
    started: !!s.run,
    restartCount: s.restartCount,
    state,
    ...(s.run ? { containerID: s.run.containerID } : s.terminated?.containerID ? { containerID: s.terminated.containerID } : {}),
    ...(s.lastTerminated ? { lastState: { terminated: s.lastTerminated } } : {}),
  };
  return {
    phase: s.phase,
    hostIP: IP,
    hostIPs: [{ ip: IP }],
    podIP: IP,
    podIPs: [{ ip: IP }],
    startTime: s.startTime,
    ...(s.failure ? { reason: s.failure.reason, message: s.failure.message } : {}),
    conditions: [
      cond('PodReadyToStartContainers', true),
      cond('Initialized', true),
      cond('Ready', ready, ready ? undefined : terminal ? 'PodCompleted' : 'ContainersNotReady'),
      cond('ContainersReady', ready, ready ? undefined : terminal ? 'PodCompleted' : 'ContainersNotReady'),
      cond('PodScheduled', true),
    ],
    containerStatuses: cs ? [cs] : [],
  };
}
