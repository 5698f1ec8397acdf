import { Alert, Button, Group, PasswordInput, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { PASSWORD_LENGTH } from '../../../src/limits';
import { ApiError, client, session } from '../api';
import { ErrorAlert } from '../shared';

/** The server's rule (src/http/schemas.ts Password). */
export const MIN_PASSWORD_LENGTH = PASSWORD_LENGTH.min;

type Field = 'current' | 'next' | 'repeat';

/**
 * The signed-in person's own password. A new password ends every session, this one too; the
 * server answers with a fresh session, which replaces the old token so the console stays signed in.
 */
export function ChangePasswordForm({ onClose }: { onClose: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [problem, setProblem] = useState<{ field: Field; message: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const fieldError = (field: Field) => (problem?.field === field ? problem.message : undefined);

  if (done) {
    return (
      <Stack>
        <Alert color="teal" title="Password changed" role="status">
          Every other session with your old password has ended. You stay signed in here.
        </Alert>
        <Group justify="flex-end">
          <Button onClick={onClose} data-autofocus>
            Close
          </Button>
        </Group>
      </Stack>
    );
  }

  return (
    <form
      noValidate
      onSubmit={async (event) => {
        event.preventDefault();
        setError(null);
        setProblem(null);
        if (!current) return setProblem({ field: 'current', message: 'Enter your current password.' });
        if (next.length < MIN_PASSWORD_LENGTH)
          return setProblem({
            field: 'next',
            message: `The new password needs at least ${MIN_PASSWORD_LENGTH} characters.`,
          });
        if (repeat !== next)
          return setProblem({ field: 'repeat', message: 'The two new passwords are not the same.' });
        setBusy(true);
        try {
          const result = await client.updateMe({ body: { password: next, currentPassword: current } });
          // The token this console holds ended with the change: keep the one the answer brings
          // (a password change always brings one).
          if (result.session) session.set(result.session.token);
          setDone(true);
        } catch (e) {
          if (e instanceof ApiError && e.code === 'INVALID_CREDENTIALS')
            setProblem({ field: 'current', message: 'The current password is not right.' });
          else setError(e);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Stack>
        <Text size="sm">
          Changing your password signs you out everywhere else (other browsers and devices). You stay signed
          in here.
        </Text>
        <PasswordInput
          label="Current password"
          autoComplete="current-password"
          required
          data-autofocus
          maxLength={PASSWORD_LENGTH.max}
          value={current}
          error={fieldError('current')}
          onChange={(e) => setCurrent(e.currentTarget.value)}
        />
        <PasswordInput
          label="New password"
          description={`At least ${MIN_PASSWORD_LENGTH} characters.`}
          autoComplete="new-password"
          required
          maxLength={PASSWORD_LENGTH.max}
          value={next}
          error={fieldError('next')}
          onChange={(e) => setNext(e.currentTarget.value)}
        />
        <PasswordInput
          label="Repeat the new password"
          autoComplete="new-password"
          required
          maxLength={PASSWORD_LENGTH.max}
          value={repeat}
          error={fieldError('repeat')}
          onChange={(e) => setRepeat(e.currentTarget.value)}
        />
        <ErrorAlert error={error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={busy}>
            Change password
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
