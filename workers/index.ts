import { createApp } from "../src/http/app";

export { ConversationRoom } from "./conversation-room";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
