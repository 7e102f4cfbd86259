import { describe, expect, it } from 'vitest';
import { CanvasError, flatten, withRunIds, type CanvasNode } from './canvas.js';

const t = (name: string, extra: Record<string, unknown> = {}): CanvasNode => ({
  type: 'task',
  task: name,
  ...extra,
});
/** Edges as `parent->child` by task name, in order. */
const edges = (root: CanvasNode, policy: 'fail' | 'cancel' | 'run' = 'fail') => {
  const flat = flatten(root, policy, 100);
  return flat.edges.map(
    (e) =>
      `${flat.runs[e.parent]!.request.task}->${flat.runs[e.child]!.request.task}#${e.position}:${e.onParentFailure}`,
  );
};

describe('flatten', () => {
  it('makes a chain a line, each step after the one before', () => {
    expect(edges({ type: 'chain', steps: [t('a'), t('b'), t('c')] })).toEqual(['a->b#0:fail', 'b->c#0:fail']);
  });

  it('gives a chord callback every member of the group, in order', () => {
    expect(edges({ type: 'chord', group: [t('a'), t('b'), t('c')], callback: t('cb') })).toEqual([
      'a->cb#0:fail',
      'b->cb#1:fail',
      'c->cb#2:fail',
    ]);
  });

  it('joins nested groups and chains: the step after a group waits for each of its branches’ ends', () => {
    const root: CanvasNode = {
      type: 'chain',
      steps: [
        t('start'),
        { type: 'group', tasks: [{ type: 'chain', steps: [t('x1'), t('x2')] }, t('y')] },
        t('end'),
      ],
    };
    expect(edges(root)).toEqual([
      'x1->x2#0:fail',
      'start->x1#0:fail',
      'start->y#0:fail',
      'x2->end#0:fail',
      'y->end#1:fail',
    ]);
  });

  it('takes policies from the workflow, a node, or a dag edge, nearest first', () => {
    const root: CanvasNode = {
      type: 'chain',
      onParentFailure: 'cancel',
      steps: [
        t('a'),
        t('b', { onParentFailure: 'run' }),
        {
          type: 'dag',
          nodes: [
            { key: 'c', task: 'c' },
            { key: 'd', task: 'd', dependsOn: ['c', { key: 'e', onParentFailure: 'run' }] },
            { key: 'e', task: 'e' },
          ],
        },
      ],
    };
    expect(edges(root, 'fail').sort()).toEqual(
      ['a->b#0:run', 'c->d#0:cancel', 'e->d#1:run', 'b->c#0:cancel', 'b->e#0:cancel'].sort(),
    );
  });

  it('refuses a cycle, an unknown or repeated key, a self-dependency, and more runs than allowed', () => {
    const fails = (root: CanvasNode, field: string, max = 100) => {
      try {
        flatten(root, 'fail', max);
      } catch (error) {
        expect(error).toBeInstanceOf(CanvasError);
        expect((error as CanvasError).field).toBe(field);
        return;
      }
      throw new Error('expected a CanvasError');
    };
    fails(
      {
        type: 'dag',
        nodes: [
          { key: 'a', task: 'a', dependsOn: ['c'] },
          { key: 'b', task: 'b', dependsOn: ['a'] },
          { key: 'c', task: 'c', dependsOn: ['b'] },
        ],
      },
      'root.nodes',
    );
    fails({ type: 'dag', nodes: [{ key: 'a', task: 'a', dependsOn: ['x'] }] }, 'root.nodes.0.dependsOn.0');
    fails({ type: 'dag', nodes: [{ key: 'a', task: 'a', dependsOn: ['a'] }] }, 'root.nodes.0.dependsOn.0');
    fails(
      {
        type: 'dag',
        nodes: [
          { key: 'a', task: 'a' },
          { key: 'a', task: 'b' },
        ],
      },
      'root.nodes.1.key',
    );
    fails({ type: 'group', tasks: [t('a'), t('b'), t('c')] }, 'root', 2);
  });

  it('stores the tree with run ids in the order the runs were made, without args', () => {
    const root: CanvasNode = {
      type: 'chord',
      group: [t('a', { args: { big: 1 } }), t('b')],
      callback: t('cb'),
    };
    expect(withRunIds(root, [10, 11, 12])).toEqual({
      type: 'chord',
      group: [
        { type: 'task', task: 'a', runId: 10 },
        { type: 'task', task: 'b', runId: 11 },
      ],
      callback: { type: 'task', task: 'cb', runId: 12 },
    });
  });
});
