// The frame around every screen: navigation, theme switch, and the screen itself.
import { createContext, useContext } from "react";
import { NavLink, Outlet } from "react-router";
import { type Theme, useTheme } from "../theme/theme";
import { SsoSession } from "./SsoSession";
import { TokenButton } from "./TokenDialog";

const ThemeContext = createContext<Theme>("light");
export const useCurrentTheme = (): Theme => useContext(ThemeContext);

const NAV = [
  { to: "/builder", label: "Builder" },
  { to: "/suites", label: "Suites" },
  { to: "/runs", label: "Runs" },
  { to: "/schedules", label: "Schedules" },
  { to: "/dashboard", label: "Dashboard" },
  { to: "/environments", label: "Environments" },
  { to: "/plugins", label: "Plugins" },
];

export function AppShell() {
  const [theme, toggle] = useTheme();
  return (
    <ThemeContext.Provider value={theme}>
      <div className="shell">
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="shell-header">
          <span className="brand">testflow</span>
          <nav aria-label="Main">
            <ul className="nav">
              {NAV.map((item) => (
                <li key={item.to}>
                  <NavLink to={item.to} className={({ isActive }) => (isActive ? "nav-link active" : "nav-link")}>
                    {item.label}
                  </NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <TokenButton />
          <button type="button" className="btn ghost" onClick={toggle} aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}>
            {theme === "dark" ? "☀ Light" : "☾ Dark"}
          </button>
        </header>
        <main id="main" className="shell-main">
          <SsoSession />
          <Outlet />
        </main>
      </div>
    </ThemeContext.Provider>
  );
}
