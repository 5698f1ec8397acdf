/** The answers of the two-factor sign-in operations (src/auth/mfa). Pure data, like views.ts. */
import { Type } from '@sinclair/typebox';
import { Nullable } from './common.js';
import { TokenAnswer } from './views.js';

export const RecoveryCodes = Type.Array(Type.String(), {
  description: 'one-time recovery codes, shown this once (each works once in place of a code)',
});

export const TotpSetup = Type.Object({
  secret: Type.String({ description: 'base32; SHA-1, 6 digits, 30 s steps' }),
  otpauthUrl: Type.String({
    description: 'otpauth://totp/… for an authenticator app (as a QR code or typed)',
  }),
});

export const RecoveryCodesAnswer = Type.Object({ recoveryCodes: RecoveryCodes });

export const PasskeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Nullable(Type.String()),
});

export const MfaStatus = Type.Object({
  totp: Type.Boolean({ description: 'an authenticator app is active' }),
  totpPending: Type.Boolean({ description: 'an authenticator app was set up and awaits its first code' }),
  recoveryCodesLeft: Type.Integer(),
  passkeys: Type.Array(PasskeyView),
  required: Type.Boolean({ description: "the tenant's mfaRequired setting covers this user" }),
});

export const PasskeyRegistered = Type.Object({
  passkey: Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String() }),
  recoveryCodes: Type.Optional(RecoveryCodes),
});

/** WebAuthn options (PublicKeyCredentialCreationOptionsJSON / …RequestOptionsJSON), passed to the browser as they are. */
export const WebAuthnOptions = Type.Object(
  { challenge: Type.String() },
  {
    additionalProperties: true,
    description: 'give to @simplewebauthn/browser (startRegistration / startAuthentication)',
  },
);

/** POST /iam/login: the token, and the recovery codes of a sign-in that enrolled an authenticator app. */
export const LoginAnswer = Type.Composite([
  TokenAnswer,
  Type.Object({ recoveryCodes: Type.Optional(RecoveryCodes) }),
]);
