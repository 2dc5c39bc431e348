// Placeholder entry of the admin console (the real front end replaces it): proves the build.
import { render } from 'preact';
import './app.css';

function App() {
  return <main>Gatehouse console</main>;
}

render(<App />, document.getElementById('app')!);
