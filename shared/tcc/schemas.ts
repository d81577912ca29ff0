import { Type } from '@sinclair/typebox';
import { S } from '../core/validation.js';

// docs/api.md#resources: ids are ^[a-z0-9-]{1,64}$; amounts ≥ 0, omitted ones are 0.
export const requestId = Type.String({ pattern: '^[a-z0-9-]{1,64}$' });
export const applier = Type.Union([Type.Literal('dm'), Type.Literal('jm'), Type.Literal('am'), Type.Literal('mm')]);

export const tryBody = S.object({
  id: requestId,
  applier,
  request_type: Type.Union([Type.Literal('request'), Type.Literal('release')]),
  tenant: Type.Optional(S.name()),
  gpu: Type.Optional(Type.Integer({ minimum: 0 })),
  cpu: Type.Optional(Type.Number({ minimum: 0 })),
  ram: Type.Optional(Type.Integer({ minimum: 0 })),
  rom: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const decideBody = S.object({ id: requestId, applier });
