import { Button, Card, Group, Modal, Stack, Text, Title } from '@mantine/core';
import { IconKey, IconPlus } from '@tabler/icons-react';
import { useId, useRef, useState } from 'react';
import type { CreatedKey } from '../api';
import { beyondYouReason } from '../grants';
import { principalClient } from '../principals';
import { useRefreshWhileVisible } from '../refresh';
import { useLoad } from '../shared';
import { KeyDetailsDrawer, KeyTable, SecretModal } from './KeyDetails';
import { KeyForm } from './KeyForm';
import { ListStates } from './ListScaffold';

/** The API Access panel of a user or a service account: its keys, Add access, delete, regenerate. */
export function ApiAccessPanel({
  owner,
  ownerEmail,
  ownerWithinYourPermissions,
}: {
  owner: { type: 'user' | 'service_account'; id: string; label: string };
  ownerEmail: string | null;
  /** The signed-in person holds all the owner holds: only then may they create keys for it. */
  ownerWithinYourPermissions: boolean;
}) {
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [details, setDetails] = useState<string | null>(null);
  const reasonId = useId();
  const keys = useLoad((signal) => principalClient(owner).listKeys({ signal }), [owner.id]);
  // "Last used" and states move while the page is open: read the list again.
  useRefreshWhileVisible(keys.reload);
  const addRef = useRef<HTMLButtonElement>(null);
  return (
    <Card withBorder padding="lg" radius="md" component="section" aria-labelledby="api-access-title">
      <Group justify="space-between" mb="sm">
        <Title order={3} id="api-access-title">
          API Access
        </Title>
        <Button
          ref={addRef}
          leftSection={<IconPlus size={16} aria-hidden />}
          onClick={() => setAdding(true)}
          disabled={!ownerWithinYourPermissions}
          aria-describedby={ownerWithinYourPermissions ? undefined : reasonId}
        >
          Add access
        </Button>
      </Group>
      {ownerWithinYourPermissions ? null : (
        <Text size="sm" mb="sm" id={reasonId} data-testid="add-access-reason">
          {beyondYouReason(owner.label)}
        </Text>
      )}
      <ListStates
        list={keys}
        loadingLabel="Loading keys"
        loaderSize="sm"
        empty={{
          icon: <IconKey aria-hidden />,
          title: 'No API access yet',
          description: 'Add access to create an access key and its secret key for programmatic access.',
        }}
      >
        {(items) => (
          <KeyTable
            keys={items}
            compact
            onChanged={keys.reload}
            onSecret={setCreated}
            onOpenDetails={(k) => setDetails(k.accessKeyId)}
          />
        )}
      </ListStates>
      <Modal opened={adding} onClose={() => setAdding(false)} title="Add access" size="lg">
        <Stack>
          <Text size="sm" c="dimmed">
            Choose how long the keys live and whether to email them. The Default lifetime comes from IAM
            settings.
          </Text>
          <KeyForm
            fixedOwner={owner}
            ownerEmail={ownerEmail}
            withEmailOption
            submitLabel="Create"
            onCancel={() => setAdding(false)}
            onSubmit={async ({ body }) => {
              const result = await principalClient(owner).createKey(body);
              setAdding(false);
              setCreated(result);
              keys.reload();
            }}
          />
        </Stack>
      </Modal>
      <SecretModal
        created={created}
        title="API and secret keys"
        onClose={() => setCreated(null)}
        fallbackFocus={addRef}
      />
      <KeyDetailsDrawer accessKeyId={details} onClose={() => setDetails(null)} onChanged={keys.reload} />
    </Card>
  );
}
