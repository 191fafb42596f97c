import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { signIn } from "./auth";
import { lang } from "./i18n";
import { App } from "./components/App";
import "./styles.css";

document.documentElement.lang = lang;
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App signIn={signIn()} />
  </StrictMode>,
);
