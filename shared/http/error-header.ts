/**
 * A client error's stable code (ClientError.code), answered next to its {msg} body, so a caller
 * across HTTP branches on the outcome as one in the same process does, never on the message.
 */
export const CODE_HEADER = 'x-mlp-code';
