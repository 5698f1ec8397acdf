import {
  Button,
  Card,
  Fieldset,
  Group,
  NumberInput,
  Select,
  Stack,
  Table,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { ALLOWED_CIDRS_MAX, QUOTA_LIMIT, RATE_LIMIT } from '../../../src/limits';
import { ApiError } from '../api';
import { ErrorAlert, useAction } from '../shared';
import { describeCidrs, describeQuota, describeRateLimit, type TrafficRules } from '../usage';

export type TrafficField = 'rateLimit' | 'quota' | 'allowedCidrs';

/** The "Traffic limits" fields as typed: empty request counts mean "no rule at this level". */
export interface TrafficDraft {
  rateLimit: number | '';
  ratePeriodSeconds: number | '';
  quota: number | '';
  quotaPeriod: 'day' | 'month';
  /** One CIDR or address per line. */
  cidrs: string;
}

export type TrafficErrors = Partial<Record<TrafficField, string>>;

export function draftOf(rules?: Partial<TrafficRules> | null): TrafficDraft {
  return {
    rateLimit: rules?.rateLimit?.limit ?? '',
    ratePeriodSeconds: rules?.rateLimit?.periodSeconds ?? 60,
    quota: rules?.quota?.limit ?? '',
    quotaPeriod: rules?.quota?.period ?? 'day',
    cidrs: (rules?.allowedCidrs ?? []).join('\n'),
  };
}

const whole = (v: number | '', range: { min: number; max: number }) =>
  typeof v === 'number' && Number.isInteger(v) && v >= range.min && v <= range.max;

/**
 * The rules the draft says (null: none), or what is wrong with it, by field. CIDRs are only split
 * here: the server checks them and names a bad one (INVALID_CIDR).
 */
export function rulesOf(draft: TrafficDraft): { rules: TrafficRules } | { errors: TrafficErrors } {
  const errors: TrafficErrors = {};
  let rateLimit: TrafficRules['rateLimit'] = null;
  if (draft.rateLimit !== '') {
    if (!whole(draft.rateLimit, RATE_LIMIT.limit))
      errors.rateLimit = `Requests: a whole number from ${RATE_LIMIT.limit.min} to ${RATE_LIMIT.limit.max.toLocaleString()}.`;
    else if (!whole(draft.ratePeriodSeconds, RATE_LIMIT.periodSeconds))
      errors.rateLimit = `Period: a whole number of seconds from ${RATE_LIMIT.periodSeconds.min} to ${RATE_LIMIT.periodSeconds.max.toLocaleString()}.`;
    else rateLimit = { limit: draft.rateLimit, periodSeconds: draft.ratePeriodSeconds as number };
  }
  let quota: TrafficRules['quota'] = null;
  if (draft.quota !== '') {
    if (!whole(draft.quota, QUOTA_LIMIT))
      errors.quota = `Requests: a whole number from ${QUOTA_LIMIT.min} to ${QUOTA_LIMIT.max.toLocaleString()}.`;
    else quota = { limit: draft.quota, period: draft.quotaPeriod };
  }
  const lines = draft.cidrs
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length > ALLOWED_CIDRS_MAX) errors.allowedCidrs = `At most ${ALLOWED_CIDRS_MAX} networks.`;
  if (Object.keys(errors).length > 0) return { errors };
  return { rules: { rateLimit, quota, allowedCidrs: lines.length > 0 ? lines : null } };
}

/** Only the rules that are set (for a new key: nothing sent means no rule). */
export function setRules(rules: TrafficRules): Partial<TrafficRules> {
  const out: Partial<TrafficRules> = {};
  if (rules.rateLimit) out.rateLimit = rules.rateLimit;
  if (rules.quota) out.quota = rules.quota;
  if (rules.allowedCidrs) out.allowedCidrs = rules.allowedCidrs;
  return out;
}

/** The field a server refusal is about: INVALID_CIDR, or a validation message naming a rule. */
export function trafficFieldOfError(error: unknown): { field: TrafficField; message: string } | null {
  if (!(error instanceof ApiError)) return null;
  if (error.code === 'INVALID_CIDR')
    return { field: 'allowedCidrs', message: error.message.replace(/^allowedCidrs:\s*/, '') };
  if (error.code !== 'VALIDATION_FAILED') return null;
  const m = /^(?:body[./])?(rateLimit|quota|allowedCidrs)\b[./]?(.*)$/.exec(error.message);
  if (!m) return null;
  return { field: m[1] as TrafficField, message: error.message };
}

/**
 * A draft of traffic rules, with its errors by field: `collect()` gives the rules (or marks the
 * fields and gives null), `failed(error)` puts a server refusal on its field (true when it did).
 */
export function useTrafficDraft(initial?: Partial<TrafficRules> | null) {
  const [draft, setDraft] = useState<TrafficDraft>(() => draftOf(initial));
  const [errors, setErrors] = useState<TrafficErrors>({});
  const collect = useCallback((): TrafficRules | null => {
    const result = rulesOf(draft);
    if ('errors' in result) {
      setErrors(result.errors);
      return null;
    }
    setErrors({});
    return result.rules;
  }, [draft]);
  const failed = useCallback((error: unknown): boolean => {
    const named = trafficFieldOfError(error);
    if (named) setErrors({ [named.field]: named.message });
    return named !== null;
  }, []);
  const reset = useCallback((rules?: Partial<TrafficRules> | null) => {
    setDraft(draftOf(rules));
    setErrors({});
  }, []);
  return { draft, setDraft, errors, setErrors, collect, failed, reset };
}

export type TrafficDraftState = ReturnType<typeof useTrafficDraft>;

/**
 * Rate limit, quota and allowed networks, each optional. A field the server refused shows why,
 * and the first field in error takes focus.
 */
export function TrafficRulesFields({
  state,
  disabled,
  legend = 'Traffic limits (optional)',
  description,
}: {
  state: TrafficDraftState;
  disabled?: boolean;
  /** null: no legend (a heading already names the group). */
  legend?: string | null;
  description?: string;
}) {
  const id = useId();
  const { draft, setDraft, errors, setErrors } = state;
  const set = <K extends keyof TrafficDraft>(k: K, v: TrafficDraft[K]) => {
    setDraft((d) => ({ ...d, [k]: v }));
    const field: TrafficField = k === 'cidrs' ? 'allowedCidrs' : k.startsWith('rate') ? 'rateLimit' : 'quota';
    if (errors[field]) setErrors((e) => ({ ...e, [field]: undefined }));
  };
  const firstError = (['rateLimit', 'quota', 'allowedCidrs'] as const).find((f) => errors[f]);
  const shown = useRef<string | undefined>(undefined);
  useEffect(() => {
    const message = firstError ? errors[firstError] : undefined;
    if (firstError && message !== shown.current) document.getElementById(`${id}-${firstError}`)?.focus();
    shown.current = message;
  }, [firstError, errors, id]);
  const asNumber = (v: string | number): number | '' => (v === '' ? '' : Number(v));
  return (
    <Fieldset
      legend={legend ?? undefined}
      variant="unstyled"
      disabled={disabled}
      data-testid="traffic-fields"
    >
      <Stack gap="sm">
        {description ? (
          <Text size="sm" c="dimmed">
            {description}
          </Text>
        ) : null}
        <Group align="flex-start" gap="sm">
          <NumberInput
            id={`${id}-rateLimit`}
            label="Rate limit (requests)"
            disabled={disabled}
            description="Empty: no rate limit."
            min={RATE_LIMIT.limit.min}
            max={RATE_LIMIT.limit.max}
            allowDecimal={false}
            value={draft.rateLimit}
            error={errors.rateLimit}
            onChange={(v) => set('rateLimit', asNumber(v))}
            style={{ flex: '1 1 150px' }}
          />
          <NumberInput
            label="Per (seconds)"
            disabled={disabled}
            description="60: a minute."
            min={RATE_LIMIT.periodSeconds.min}
            max={RATE_LIMIT.periodSeconds.max}
            allowDecimal={false}
            value={draft.ratePeriodSeconds}
            onChange={(v) => set('ratePeriodSeconds', asNumber(v))}
            style={{ flex: '1 1 150px' }}
          />
        </Group>
        <Group align="flex-start" gap="sm">
          <NumberInput
            id={`${id}-quota`}
            label="Quota (requests)"
            disabled={disabled}
            description="Empty: no quota."
            min={QUOTA_LIMIT.min}
            max={QUOTA_LIMIT.max}
            allowDecimal={false}
            thousandSeparator=","
            value={draft.quota}
            error={errors.quota}
            onChange={(v) => set('quota', asNumber(v))}
            style={{ flex: '1 1 150px' }}
          />
          <Select
            label="Quota period"
            disabled={disabled}
            description="Calendar days or months, UTC."
            allowDeselect={false}
            data={[
              { value: 'day', label: 'Per day' },
              { value: 'month', label: 'Per month' },
            ]}
            value={draft.quotaPeriod}
            onChange={(v) => v && set('quotaPeriod', v as 'day' | 'month')}
            style={{ flex: '1 1 150px' }}
          />
        </Group>
        <Textarea
          id={`${id}-allowedCidrs`}
          label="Allowed networks"
          disabled={disabled}
          description="One CIDR or address per line, e.g. 203.0.113.0/24 or 2001:db8::/32. Empty: any address."
          autosize
          minRows={2}
          maxRows={8}
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          value={draft.cidrs}
          error={errors.allowedCidrs}
          onChange={(e) => set('cidrs', e.currentTarget.value)}
        />
      </Stack>
    </Fieldset>
  );
}

/** The three rules as a small table of words (read-only places). */
export function TrafficRulesSummary({ rules, label }: { rules: TrafficRules; label: string }) {
  return (
    <Table variant="vertical" withTableBorder aria-label={label} data-testid="traffic-rules">
      <Table.Tbody>
        <Table.Tr>
          <Table.Th w={140}>Rate limit</Table.Th>
          <Table.Td>{describeRateLimit(rules.rateLimit)}</Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Th>Quota</Table.Th>
          <Table.Td>{describeQuota(rules.quota)}</Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Th>Allowed networks</Table.Th>
          <Table.Td style={{ overflowWrap: 'anywhere' }}>{describeCidrs(rules.allowedCidrs)}</Table.Td>
        </Table.Tr>
      </Table.Tbody>
    </Table>
  );
}

/**
 * The traffic rules of one key, user or service account, in words; those who may (`canEdit`)
 * open the fields with Change traffic limits. `save` sends all three (null clears one). Focus goes
 * to the first field on opening and back to that button on closing.
 */
export function TrafficRulesEditor({
  rules,
  canEdit,
  save,
  onSaved,
  about,
  readOnlyReason,
  legend = 'Traffic limits',
}: {
  rules: TrafficRules;
  canEdit: boolean;
  save: (rules: TrafficRules) => Promise<unknown>;
  onSaved: () => void;
  /** Where the rules apply (shown above them). */
  about: string;
  /** Why the rules cannot be changed here (shown to those who may not). */
  readOnlyReason?: string;
  legend?: string | null;
}) {
  const state = useTrafficDraft(rules);
  const submit = useAction();
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const editRef = useRef<HTMLButtonElement>(null);
  const backToEdit = useRef(false);
  // Saved (or changed elsewhere): the fields show what the server keeps (CIDRs normalised).
  const current = JSON.stringify(rules);
  const { reset } = state;
  useEffect(() => reset(JSON.parse(current) as TrafficRules), [current, reset]);
  useEffect(() => {
    if (editing) formRef.current?.querySelector<HTMLElement>('input, textarea')?.focus();
    else if (backToEdit.current) {
      backToEdit.current = false;
      editRef.current?.focus();
    }
  }, [editing]);
  const close = () => {
    backToEdit.current = true;
    setEditing(false);
  };
  if (!editing) {
    return (
      <Stack gap="xs">
        <Text size="sm" c="dimmed">
          {about}
        </Text>
        <TrafficRulesSummary rules={rules} label={legend ?? 'Traffic limits'} />
        {saved ? (
          <Text size="sm" c="teal" role="status">
            Traffic limits saved.
          </Text>
        ) : null}
        {canEdit ? (
          <Group>
            <Button
              ref={editRef}
              variant="default"
              onClick={() => {
                setSaved(false);
                submit.setError(null);
                reset(JSON.parse(current) as TrafficRules);
                setEditing(true);
              }}
            >
              Change traffic limits
            </Button>
          </Group>
        ) : readOnlyReason ? (
          <Text size="sm" c="dimmed">
            {readOnlyReason}
          </Text>
        ) : null}
      </Stack>
    );
  }
  return (
    <form
      ref={formRef}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const next = state.collect();
        if (!next) return;
        submit.run(async () => {
          try {
            await save(next);
          } catch (error) {
            state.failed(error);
            throw error;
          }
          setSaved(true);
          close();
          onSaved();
        });
      }}
    >
      <Stack gap="sm">
        <TrafficRulesFields state={state} legend={legend} description={about} />
        <ErrorAlert error={submit.error} />
        <Group>
          <Button type="submit" loading={submit.busy}>
            Save traffic limits
          </Button>
          <Button variant="default" onClick={close}>
            Cancel
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** A card with a principal's traffic rules (user or service account detail pages). */
export function TrafficRulesCard(props: Parameters<typeof TrafficRulesEditor>[0]) {
  const titleId = useId();
  return (
    <Card withBorder padding="lg" radius="md" component="section" aria-labelledby={titleId}>
      <Title order={3} id={titleId} mb="xs">
        Traffic limits
      </Title>
      <TrafficRulesEditor legend={null} {...props} />
    </Card>
  );
}
