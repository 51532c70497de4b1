import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { AppShell } from "./app/AppShell";
import { SsoCallback, SsoSilentCallback } from "./app/SsoCallback";
import { BuilderScreen } from "./builder/BuilderScreen";
import { DashboardScreen } from "./dashboard/DashboardScreen";
import { DependencyGraphScreen } from "./depgraph/DependencyGraphScreen";
import { EnvironmentsScreen } from "./environments/EnvironmentsScreen";
import { PluginsScreen } from "./plugins/PluginsScreen";
import { RunScreen } from "./run/RunScreen";
import { RunsScreen } from "./runs/RunsScreen";
import { SchedulesScreen } from "./schedules/SchedulesScreen";
import { NotFound } from "./screens/NotFound";
import { SuitesScreen } from "./suites/SuitesScreen";
import "./theme/tokens.css";
import "./app/app.css";
import "./app/screens.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");

createRoot(root).render(
  <StrictMode>
    <BrowserRouter>
      <Routes>
        <Route path="auth/silent" element={<SsoSilentCallback />} />
        <Route element={<AppShell />}>
          <Route index element={<Navigate to="/builder" replace />} />
          <Route path="builder" element={<BuilderScreen />} />
          <Route path="builder/:flowId" element={<BuilderScreen />} />
          <Route path="flows/:flowId/graph" element={<DependencyGraphScreen />} />
          <Route path="suites" element={<SuitesScreen />} />
          <Route path="runs" element={<RunsScreen />} />
          <Route path="schedules" element={<SchedulesScreen />} />
          <Route path="runs/:runId" element={<RunScreen />} />
          <Route path="dashboard" element={<DashboardScreen />} />
          <Route path="environments" element={<EnvironmentsScreen />} />
          <Route path="plugins" element={<PluginsScreen />} />
          <Route path="auth/callback" element={<SsoCallback />} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </BrowserRouter>
  </StrictMode>,
);
