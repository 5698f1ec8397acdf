import {
  ActionIcon,
  AppShell,
  Burger,
  Button,
  Center,
  Group,
  Loader,
  Menu,
  Modal,
  NavLink,
  Text,
  Title,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import {
  IconAdjustments,
  IconApi,
  IconChartBar,
  IconClockHour4,
  IconHistory,
  IconKey,
  IconLock,
  IconLogout,
  IconRobot,
  IconShield,
  IconShieldLock,
  IconUserCircle,
  IconUsers,
  IconWebhook,
} from '@tabler/icons-react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { client, type Me, session } from './api';
import { ChangePasswordForm } from './components/ChangePassword';
import { ColorSchemeMenu } from './components/ColorSchemeMenu';
import { NotificationBell } from './components/NotificationBell';
import { TemporaryCredentialsForm } from './components/TemporaryCredentials';
import { TwoFactorSettings } from './components/TwoFactor';
import { DEFAULT_SCOPE, type SigningScope, scopeFromVersion } from './format';
import { AccessKeysPage } from './pages/AccessKeys';
import { ApiDetailPage, ApisPage } from './pages/Apis';
import { AuditPage } from './pages/Audit';
import { GroupsRolesPage } from './pages/GroupsRoles';
import { ServiceAccountDetailPage, ServiceAccountsPage } from './pages/ServiceAccounts';
import { SettingsPage } from './pages/Settings';
import { SignIn } from './pages/SignIn';
import { UsagePage } from './pages/Usage';
import { UserDetailPage, UsersPage } from './pages/Users';
import { WebhookDetailPage, WebhooksPage } from './pages/Webhooks';
import { type ConsoleContext, Ctx, ErrorAlert, permissionAllows } from './shared';

const BASE = '/console';

function currentPath(): string {
  const p = window.location.pathname.startsWith(BASE) ? window.location.pathname.slice(BASE.length) : '/';
  return p === '' ? '/' : p;
}

const NAV = [
  { path: '/users', label: 'Users', icon: IconUsers, permission: 'iam:users:read' },
  {
    path: '/service-accounts',
    label: 'Service accounts',
    icon: IconRobot,
    permission: 'iam:service-accounts:read',
  },
  { path: '/keys', label: 'Access keys', icon: IconKey, permission: null },
  { path: '/usage', label: 'Usage', icon: IconChartBar, permission: 'iam:keys:read' },
  { path: '/groups', label: 'Groups and roles', icon: IconShield, permission: 'iam:roles:read' },
  { path: '/apis', label: 'APIs', icon: IconApi, permission: 'iam:apis:read' },
  { path: '/webhooks', label: 'Webhooks', icon: IconWebhook, permission: 'iam:webhooks:read' },
  { path: '/settings', label: 'IAM settings', icon: IconAdjustments, permission: 'iam:settings:read' },
  { path: '/audit', label: 'Audit log', icon: IconHistory, permission: 'iam:audit:read' },
] as const;

const SESSION_NOTICES: Record<string, string> = {
  EXPIRED_TOKEN: 'Your session expired. Sign in again to continue. (EXPIRED_TOKEN)',
  INVALID_TOKEN: 'Your session is no longer valid. Sign in again to continue. (INVALID_TOKEN)',
  UNAUTHENTICATED: 'Your session ended. Sign in again to continue.',
};

/**
 * After a page change (or signing in): name the document after the page's heading and, when the
 * person moved there, put focus on that heading, so a screen reader announces the new page and the
 * next Tab starts from it instead of from the top of the document. The heading may come after the
 * page's data, so it is looked for a few times.
 */
function usePageHeading(path: string, signedIn: boolean, moved: React.MutableRefObject<boolean>) {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let tries = 0;
    const settle = () => {
      const heading = document.querySelector<HTMLElement>('#main h2');
      if (!heading) {
        if (tries++ < 60) timer = setTimeout(settle, 50);
        return;
      }
      const section = NAV.find((n) => path === n.path || path.startsWith(`${n.path}/`))?.label;
      const name = heading.textContent ?? '';
      document.title = [name, section && section !== name ? section : null, 'latchkey']
        .filter(Boolean)
        .join(' · ');
      if (moved.current) {
        moved.current = false;
        heading.tabIndex = -1;
        heading.focus();
      }
    };
    if (signedIn) settle();
    else document.title = 'Sign in · latchkey';
    return () => clearTimeout(timer);
  }, [path, signedIn, moved]);
}

/** Unknown or bare paths go to the first screen the user may see. */
function Redirect({ to, navigate }: { to: string; navigate: (path: string, replace?: boolean) => void }) {
  useEffect(() => navigate(to, true), [to, navigate]);
  return <Loader aria-label="Loading" />;
}

export function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [booting, setBooting] = useState(true);
  const [bootError, setBootError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [path, setPath] = useState(currentPath());
  const [scope, setScope] = useState<SigningScope>(DEFAULT_SCOPE);
  const [navOpened, { toggle: toggleNav, close: closeNav }] = useDisclosure(false);
  const [changingPassword, setChangingPassword] = useState(false);
  const [twoFactor, setTwoFactor] = useState(false);
  const [creatingTemporary, setCreatingTemporary] = useState(false);
  /** The person moved to another page: its heading takes focus once it is there. */
  const moved = useRef(false);
  usePageHeading(path, me !== null, moved);

  const signOut = useCallback((message: string | null = null) => {
    session.clear();
    setMe(null);
    setNotice(message);
  }, []);

  const loadMe = useCallback(async () => {
    setBootError(null);
    try {
      setMe(await client.getMe());
    } catch (e) {
      session.clear();
      setMe(null);
      if ((e as { status?: number }).status !== 401) setBootError(e);
    } finally {
      setBooting(false);
    }
  }, []);

  useEffect(() => {
    const off = session.onAuthLost((code) =>
      signOut(SESSION_NOTICES[code] ?? SESSION_NOTICES.UNAUTHENTICATED ?? null),
    );
    const onPop = () => {
      moved.current = true;
      setPath(currentPath());
    };
    window.addEventListener('popstate', onPop);
    client
      .version({}, { anonymous: true })
      .then((v) => setScope(scopeFromVersion(v)))
      .catch(() => setScope(DEFAULT_SCOPE));
    if (session.load()) loadMe();
    else setBooting(false);
    return () => {
      off();
      window.removeEventListener('popstate', onPop);
    };
  }, [loadMe, signOut]);

  const navigate = useCallback(
    (to: string, replace = false) => {
      if (replace) window.history.replaceState(null, '', `${BASE}${to}`);
      else window.history.pushState(null, '', `${BASE}${to}`);
      if (!replace) moved.current = true;
      setPath(to);
      closeNav();
      window.scrollTo(0, 0);
    },
    [closeNav],
  );

  const can = useCallback((permission: string) => permissionAllows(me?.permissions ?? [], permission), [me]);
  const ctx = useMemo<ConsoleContext | null>(
    () => (me ? { me, scope, can, navigate } : null),
    [me, scope, can, navigate],
  );

  if (booting) {
    return (
      <Center mih="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (!me || !ctx) {
    return (
      <>
        {bootError ? <ErrorAlert error={bootError} /> : null}
        <SignIn
          notice={notice}
          onSignedIn={(token) => {
            session.set(token);
            moved.current = true;
            setNotice(null);
            setBooting(true);
            loadMe();
          }}
        />
      </>
    );
  }

  const visibleNav = NAV.filter((n) => n.permission === null || can(n.permission));
  const fallback = visibleNav[0]?.path ?? '/keys';
  const segments = path.split('/').filter(Boolean);
  let page: React.ReactNode;
  switch (segments[0]) {
    case 'users':
      page = segments[1] ? <UserDetailPage key={segments[1]} userId={segments[1]} /> : <UsersPage />;
      break;
    case 'service-accounts':
      page = segments[1] ? (
        <ServiceAccountDetailPage key={segments[1]} id={segments[1]} />
      ) : (
        <ServiceAccountsPage />
      );
      break;
    case 'keys':
      page = <AccessKeysPage />;
      break;
    case 'usage':
      page = can('iam:keys:read') ? <UsagePage /> : null;
      break;
    case 'groups':
      page = <GroupsRolesPage />;
      break;
    case 'apis':
      page = segments[1] ? <ApiDetailPage key={segments[1]} id={segments[1]} /> : <ApisPage />;
      break;
    case 'webhooks':
      page = segments[1] ? <WebhookDetailPage key={segments[1]} id={segments[1]} /> : <WebhooksPage />;
      break;
    case 'settings':
      page = <SettingsPage />;
      break;
    case 'audit':
      page = <AuditPage />;
      break;
    default:
      page = null;
  }
  if (page === null) page = <Redirect to={fallback} navigate={navigate} />;

  return (
    <Ctx.Provider value={ctx}>
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <AppShell
        header={{ height: 56 }}
        navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !navOpened } }}
        padding="lg"
      >
        <AppShell.Header>
          <Group h="100%" px={{ base: 'xs', sm: 'md' }} justify="space-between" wrap="nowrap">
            <Group gap="xs" wrap="nowrap">
              <Burger
                opened={navOpened}
                onClick={toggleNav}
                hiddenFrom="sm"
                size="sm"
                aria-label="Toggle navigation"
              />
              <IconLock size={22} aria-hidden className="header-logo" />
              <Title order={1} size="h4">
                latchkey
              </Title>
              <Text size="xs" c="dimmed" visibleFrom="md">
                User access · tenant {me.tenantId}
              </Text>
            </Group>
            <Group gap={4} wrap="nowrap">
              <NotificationBell />
              <ColorSchemeMenu />
              <Text size="sm" visibleFrom="sm" data-testid="signed-in-as">
                {me.email ?? me.name}
              </Text>
              {me.principalType === 'user' ? (
                <Menu position="bottom-end" withinPortal>
                  <Menu.Target>
                    <ActionIcon variant="subtle" size="lg" aria-label="Your account">
                      <IconUserCircle size={20} aria-hidden />
                    </ActionIcon>
                  </Menu.Target>
                  <Menu.Dropdown>
                    <Menu.Label>{me.email ?? me.name}</Menu.Label>
                    <Menu.Item
                      data-autofocus
                      leftSection={<IconKey size={16} aria-hidden />}
                      onClick={() => setChangingPassword(true)}
                    >
                      Change password
                    </Menu.Item>
                    {me.authenticatedWith === 'password' ? (
                      <Menu.Item
                        leftSection={<IconShieldLock size={16} aria-hidden />}
                        onClick={() => setTwoFactor(true)}
                      >
                        Two-factor authentication
                      </Menu.Item>
                    ) : null}
                    <Menu.Item
                      leftSection={<IconClockHour4 size={16} aria-hidden />}
                      onClick={() => setCreatingTemporary(true)}
                    >
                      Temporary credentials
                    </Menu.Item>
                  </Menu.Dropdown>
                </Menu>
              ) : null}
              <Button
                variant="subtle"
                size="xs"
                visibleFrom="sm"
                leftSection={<IconLogout size={16} aria-hidden />}
                onClick={() => signOut(null)}
              >
                Sign out
              </Button>
              {/* On a phone the header has no room for the words. */}
              <ActionIcon
                variant="subtle"
                size="lg"
                hiddenFrom="sm"
                aria-label="Sign out"
                onClick={() => signOut(null)}
              >
                <IconLogout size={20} aria-hidden />
              </ActionIcon>
            </Group>
          </Group>
        </AppShell.Header>
        <AppShell.Navbar p="xs" component="nav" aria-label="Main">
          {visibleNav.map((n) => (
            <NavLink
              key={n.path}
              href={`${BASE}${n.path}`}
              label={n.label}
              leftSection={<n.icon size={18} aria-hidden />}
              active={path === n.path || path.startsWith(`${n.path}/`)}
              aria-current={path === n.path || path.startsWith(`${n.path}/`) ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(n.path);
              }}
            />
          ))}
        </AppShell.Navbar>
        <AppShell.Main id="main" tabIndex={-1}>
          {page}
        </AppShell.Main>
      </AppShell>
      <Modal
        opened={creatingTemporary}
        onClose={() => setCreatingTemporary(false)}
        title="Temporary credentials"
      >
        {creatingTemporary ? <TemporaryCredentialsForm onClose={() => setCreatingTemporary(false)} /> : null}
      </Modal>
      <Modal
        opened={twoFactor}
        onClose={() => setTwoFactor(false)}
        title="Two-factor authentication"
        size="lg"
      >
        {twoFactor ? <TwoFactorSettings onClose={() => setTwoFactor(false)} /> : null}
      </Modal>
      <Modal opened={changingPassword} onClose={() => setChangingPassword(false)} title="Change password">
        {changingPassword ? <ChangePasswordForm onClose={() => setChangingPassword(false)} /> : null}
      </Modal>
    </Ctx.Provider>
  );
}
