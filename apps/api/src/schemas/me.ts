import Type from 'typebox';

export const Identity = Type.Object(
  {
    name: Type.Union([Type.String(), Type.Null()], {
      description:
        'The token’s name from API_TOKEN ("api-token") or API_TOKENS; null when the API has no token',
    }),
    role: Type.Union([Type.Literal('admin'), Type.Literal('read')], {
      description: 'admin: everything; read: GET requests (and previews) only',
    }),
    authenticated: Type.Boolean({
      description: 'false when the API runs without any token (development): every request is admin',
    }),
  },
  { description: 'Who the request acts as' },
);
