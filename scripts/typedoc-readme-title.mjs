// TypeDoc plugin: the API site's index page already shows the project name as its title, so the
// README's own first heading (`# model-rollout`, which the registry page and GitHub need) is left
// out there instead of appearing twice.
import { MarkdownEvent } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.renderer.on(
    MarkdownEvent.PARSE,
    (event) => {
      if (!event.page.model.isProject()) return;
      const title = `# ${app.options.getValue('name')}\n`;
      if (event.parsedText.startsWith(title)) event.parsedText = event.parsedText.slice(title.length);
    },
    // Before TypeDoc's own handler turns the markdown into HTML.
    100,
  );
}
