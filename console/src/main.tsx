import '@mantine/core/styles.css';
import '@mantine/charts/styles.css';
import './console.css';
import { MantineProvider } from '@mantine/core';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { cssVariablesResolver, theme } from './theme';

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      {/* The system's colour scheme unless the person chose one (ColorSchemeMenu, kept in localStorage). */}
      <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver} defaultColorScheme="auto">
        <App />
      </MantineProvider>
    </StrictMode>,
  );
}
