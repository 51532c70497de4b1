// An address no screen answers.
import { Link } from "react-router";

export function NotFound() {
  return (
    <section className="page" aria-labelledby="nf-title">
      <h1 id="nf-title">Not found</h1>
      <p className="muted">No screen at this address.</p>
      <p>
        <Link to="/builder">Open the Builder</Link> or <Link to="/runs">the runs</Link>.
      </p>
    </section>
  );
}
